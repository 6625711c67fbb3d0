package httpapi_test

import (
	"context"
	"io"
	nethttp "net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestPreferWaitTooLargeIsHeldAtTheCap: through the whole stack, a wait too
// large to represent holds the request like the longest wait (the 30 s cap
// of the test setup), instead of answering at once as if none were asked.
func TestPreferWaitTooLargeIsHeldAtTheCap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, prefer := range []string{"wait=99999999999999999999", "wait=18446744073709551616", `respond-async, wait="92233720368547758070"`} {
		t.Run(prefer, func(t *testing.T) {
			ctx := context.Background()
			j, err := b.app.CreateJob.Handle(ctx, app.CreateJob{ClientID: testkit.ClientA, ETA: time.Minute})
			require.NoError(t, err)
			h := b.auth(testkit.ClientA, testkit.KeyA)
			h.Set("Prefer", prefer)
			answered := make(chan heldAnswer, 1)
			go func() { answered <- getHeld(b.baseURL+jobPath(j.ID), h) }() // no require off the test goroutine
			// Parked: the wait was read as the largest, not as none.
			testkit.Eventually(t, 10*time.Second, func() bool { return b.app.Changes.Waiting() == 1 }, "the request is held")
			_, err = b.app.CompleteJob.Handle(ctx, app.CompleteJob{ID: j.ID.String(), Links: []domain.Link{{Entity: "composition", Href: "/c"}}})
			require.NoError(t, err)
			r := <-answered
			require.NoError(t, r.err)
			require.Equal(t, 200, r.status)
			require.Contains(t, string(r.body), `"status":"DONE"`, "held until the job changed")
			require.Equal(t, "wait=30", r.applied)
		})
	}
}

// heldAnswer is what a held GET got.
type heldAnswer struct {
	status  int
	applied string // Preference-Applied
	body    []byte
	err     error
}

func getHeld(url string, h nethttp.Header) heldAnswer {
	req, err := nethttp.NewRequest("GET", url, nil)
	if err != nil {
		return heldAnswer{err: err}
	}
	req.Header = h
	res, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		return heldAnswer{err: err}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return heldAnswer{status: res.StatusCode, applied: res.Header.Get("Preference-Applied"), body: body, err: err}
}

// TestPreferWaitIsReadAsWritten: wait=N is delta-seconds, a token or one
// quoted-string (RFC 7240 section 2): digits only, whatever the quotes.
// Anything else asks for no wait.
func TestPreferWaitIsReadAsWritten(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefer string
		want   time.Duration
	}{
		{"wait=3", 3 * time.Second},
		{`wait="3"`, 3 * time.Second},
		{"wait = 3", 3 * time.Second},
		{"wait=003", 3 * time.Second},
		{"respond-async, wait=3", 3 * time.Second},
		{"WAIT=3", 3 * time.Second},
		{"wait=3; x=y", 3 * time.Second},
		{`wait="3`, 0},
		{`wait=3"`, 0},
		{`wait=""3""`, 0},
		{`wait=""`, 0},
		{"wait=+3", 0},
		{"wait=-3", 0},
		{"wait=-0", 0},
		{"wait=0x10", 0},
		{"wait=1e2", 0},
		{"wait=3.0", 0},
		{"wait=3s", 0},
		{"wait=1_0", 0},
		{"wait=\u0663", 0},
		{"wait=0", 0},
	}
	for _, tt := range tests {
		t.Run(tt.prefer, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, httpapi.PreferredWait([]string{tt.prefer}))
		})
	}
}
