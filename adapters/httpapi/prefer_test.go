package httpapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
			go func() { // completes the job once the request below is parked
				if testkit.Within(10*time.Second, func() bool { return b.app.Changes.Waiting() > 0 }) {
					_, _ = b.app.CompleteJob.Handle(ctx, app.CompleteJob{ID: j.ID.String(), Links: []domain.Link{{Entity: "composition", Href: "/c"}}})
				}
			}()
			h := b.auth(testkit.ClientA, testkit.KeyA)
			h.Set("Prefer", prefer)
			r := b.do(t, "GET", jobPath(j.ID), h, nil)
			require.Equal(t, 200, r.Status)
			require.Equal(t, "DONE", r.Body["data"].(map[string]any)["status"], "held until the job changed")
			require.Equal(t, "wait=30", r.Header.Get("Preference-Applied"))
		})
	}
}
