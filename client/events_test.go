package client_test

import (
	"context"
	"errors"
	nethttp "net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/client"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// streaming starts the bundle's event feed and a public server of its own,
// whose connections the test can cut.
func streaming(t *testing.T, b *testBundle) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(httpapi.NewHandler(b.app.Public, zap.NewNop(), httpapi.DefaultHandlerConfig(), httpapi.NopObserver{}))
	t.Cleanup(srv.Close)
	return srv
}

func TestWatchReconnectsWithLastEventID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := streaming(t, b)
	c, err := client.New(srv.URL, client.WithToken(b.kit.Token(testkit.ClientA)), client.WithAPIKey(testkit.KeyA),
		client.WithSleep(func(context.Context, time.Duration) error { return nil }))
	require.NoError(t, err)
	worker := b.worker(t, workerA)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	first := b.create(t)
	var got []client.Change
	for ch, err := range c.Watch(ctx, "0") {
		require.NoError(t, err)
		got = append(got, ch)
		switch len(got) {
		case 1:
			// Cut the stream, then change jobs while it is down.
			srv.CloseClientConnections()
			_, err := worker.Complete(ctx, first.ID, client.Link{Entity: "composition", Href: "/c/1"})
			require.NoError(t, err)
			_, _, err = worker.Create(ctx, client.CreateParams{ClientID: testkit.ClientB, ETA: time.Minute})
			require.NoError(t, err)
			b.create(t)
		}
		if len(got) == 3 {
			break
		}
	}
	require.Len(t, got, 3)
	require.Equal(t, []string{"PENDING", "DONE", "PENDING"}, []string{got[0].Event, got[1].Event, got[2].Event})
	require.Equal(t, first.ID, got[1].Job.ID)
	require.Equal(t, client.StatusDone, got[1].Job.Status)
	require.Less(t, got[0].ID, got[1].ID)
}

func TestWatchEndsOnRefusal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := streaming(t, b)
	c, err := client.New(srv.URL, client.WithToken(b.kit.Token(testkit.ClientA)), client.WithAPIKey("wrong"))
	require.NoError(t, err)
	var errs []error
	for _, err := range c.Watch(context.Background(), "") {
		errs = append(errs, err)
	}
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], client.ErrUnauthorized)
}

func TestWatchRetriesUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	streaming(t, b)
	refused := 0
	b.public.set(nil, func(w nethttp.ResponseWriter, r *nethttp.Request) bool {
		if refused < 2 {
			refused++
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(nethttp.StatusServiceUnavailable)
			return true
		}
		return false
	})
	var slept []time.Duration
	c := b.mis(t, client.WithSleep(func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }),
		client.WithJitter(func(time.Duration) time.Duration { return 0 }))
	b.create(t)
	for ch, err := range c.Watch(context.Background(), "0") {
		require.NoError(t, err)
		require.Equal(t, "PENDING", ch.Event)
		break
	}
	require.Len(t, slept, 2)
	for _, d := range slept {
		require.GreaterOrEqual(t, d, 7*time.Second, "never sooner than Retry-After")
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var want []string
	for range 5 {
		want = append([]string{b.create(t).ID}, want...)
	}
	c := b.mis(t)
	ctx := context.Background()
	page, err := c.List(ctx, client.ListFilter{PageSize: 2, Status: client.StatusPending})
	require.NoError(t, err)
	require.Len(t, page.Jobs, 2)
	require.NotEmpty(t, page.NextPageToken)
	var ids []string
	for j, err := range c.ListAll(ctx, client.ListFilter{PageSize: 2}) {
		require.NoError(t, err)
		ids = append(ids, j.ID)
	}
	require.Equal(t, want, ids, "newest first, each once")
	_, err = c.List(ctx, client.ListFilter{Status: "nope"})
	var e *client.Error
	require.True(t, errors.As(err, &e))
	require.Equal(t, "Invalid status: must be PENDING, DONE or FAILED", e.Message)
}

// TestListNamesTheJobsTheServiceCannotRead: a page's meta.unreadable (jobs
// whose rows the service cannot read) is JobPage.Unreadable.
func TestListNamesTheJobsTheServiceCannotRead(t *testing.T) {
	t.Parallel()
	const unreadable = "89678f60-4cdc-4fe3-ae83-e8b3ebd35c59"
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, _ *nethttp.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":[{"id":"0d4e840b-608c-423a-82f8-95807d9d2557","status":"PENDING","eta":"2026-11-28T12:35:49.956Z","links":[]}],` +
			`"meta":{"code":200,"url":"/patients/composition/jobs","type":"array","request_id":"r","unreadable":["` + unreadable + `"]}}`))
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, client.WithToken("token"), client.WithAPIKey("key"))
	require.NoError(t, err)
	page, err := c.List(context.Background(), client.ListFilter{})
	require.NoError(t, err)
	require.Len(t, page.Jobs, 1)
	require.Equal(t, []string{unreadable}, page.Unreadable)
}
