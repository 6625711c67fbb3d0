package httpapi_test

import (
	"context"
	nethttp "net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/testkit"
)

func TestConditionalRequests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hdr := func(extra ...string) nethttp.Header {
		h := b.auth(testkit.ClientA, testkit.KeyA)
		for i := 0; i+1 < len(extra); i += 2 {
			h.Set(extra[i], extra[i+1])
		}
		return h
	}

	first := b.do(t, "GET", jobPath(b.done.ID), hdr(), nil)
	require.Equal(t, 200, first.status)
	etag := first.header.Get("ETag")
	require.Regexp(t, `^"[A-Za-z0-9_-]{22}"$`, etag, "a strong ETag")
	require.Equal(t, "private, max-age=3600", first.header.Get("Cache-Control"))
	require.Empty(t, first.header.Get("Retry-After"))

	again := b.do(t, "GET", jobPath(b.done.ID), hdr(), nil)
	require.Equal(t, etag, again.header.Get("ETag"), "the ETag ignores meta, which differs per request")

	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		r := b.do(t, "GET", jobPath(b.done.ID), hdr("If-None-Match", inm), nil)
		require.Equal(t, 304, r.status, inm)
		require.Empty(t, r.raw)
		require.Equal(t, etag, r.header.Get("ETag"))
	}
	r := b.do(t, "GET", jobPath(b.done.ID), hdr("If-None-Match", `"stale"`), nil)
	require.Equal(t, 200, r.status)

	t.Run("NoNotModifiedWithoutAccess", func(t *testing.T) {
		h := b.auth(testkit.ClientB, testkit.KeyB)
		h.Set("If-None-Match", etag)
		r := b.do(t, "GET", jobPath(b.done.ID), h, nil)
		require.Equal(t, 404, r.status, "another client learns nothing, not even a 304")
		h = nethttp.Header{"If-None-Match": {etag}}
		require.Equal(t, 401, b.do(t, "GET", jobPath(b.done.ID), h, nil).status)
	})

	t.Run("PendingIsNotStoredAndHasRetryAfter", func(t *testing.T) {
		r := b.do(t, "GET", jobPath(b.pending.ID), hdr(), nil)
		require.Equal(t, 200, r.status)
		require.Equal(t, "no-store", r.header.Get("Cache-Control"))
		secs, err := strconv.Atoi(r.header.Get("Retry-After"))
		require.NoError(t, err)
		require.GreaterOrEqual(t, secs, 1)
		require.LessOrEqual(t, secs, 30)
		require.NotEmpty(t, r.header.Get("ETag"))
	})

	t.Run("ETagChangesWithTheJob", func(t *testing.T) {
		j, err := b.app.CreateJob.Handle(context.Background(), app.CreateJob{ClientID: testkit.ClientA, ETA: time.Hour})
		require.NoError(t, err)
		before := b.do(t, "GET", jobPath(j.ID), hdr(), nil).header.Get("ETag")
		_, err = b.app.FailJob.Handle(context.Background(), app.FailJob{ID: j.ID.String(), Code: 1, Message: "x"})
		require.NoError(t, err)
		r := b.do(t, "GET", jobPath(j.ID), hdr("If-None-Match", before), nil)
		require.Equal(t, 200, r.status)
		require.NotEqual(t, before, r.header.Get("ETag"))
	})
}

func TestPreferWait(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	j, err := b.app.CreateJob.Handle(ctx, app.CreateJob{ClientID: testkit.ClientA, ETA: time.Minute})
	require.NoError(t, err)

	go func() {
		for b.app.Changes.Waiting() == 0 {
			time.Sleep(time.Millisecond)
		}
		_, _ = b.app.CompleteJob.Handle(ctx, app.CompleteJob{ID: j.ID.String(), Links: []domain.Link{{Entity: "composition", Href: "/c"}}})
	}()
	h := b.auth(testkit.ClientA, testkit.KeyA)
	h.Set("Prefer", "respond-async, wait=20")
	start := time.Now()
	r := b.do(t, "GET", jobPath(j.ID), h, nil)
	require.Equal(t, 200, r.status)
	require.Equal(t, "DONE", r.body["data"].(map[string]any)["status"])
	require.Equal(t, "wait=20", r.header.Get("Preference-Applied"))
	require.Less(t, time.Since(start), 10*time.Second, "answered on the change, not after the full wait")

	t.Run("CappedAndAppliedOnTimeout", func(t *testing.T) {
		j, err := b.app.CreateJob.Handle(ctx, app.CreateJob{ClientID: testkit.ClientA})
		require.NoError(t, err)
		h := b.auth(testkit.ClientA, testkit.KeyA)
		h.Set("Prefer", "wait=1")
		r := b.do(t, "GET", jobPath(j.ID), h, nil)
		require.Equal(t, 200, r.status)
		require.Equal(t, "PENDING", r.body["data"].(map[string]any)["status"])
		require.Equal(t, "wait=1", r.header.Get("Preference-Applied"))
	})
	t.Run("IgnoredWhenUnreadable", func(t *testing.T) {
		h := b.auth(testkit.ClientA, testkit.KeyA)
		h.Set("Prefer", "wait=soon")
		r := b.do(t, "GET", jobPath(b.pending.ID), h, nil)
		require.Equal(t, 200, r.status)
		require.Empty(t, r.header.Get("Preference-Applied"))
	})
}

// TestDroppedClientFreesItsWaiter: a client that hangs up while held frees
// its place at once.
func TestDroppedClientFreesItsWaiter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j, err := b.app.CreateJob.Handle(context.Background(), app.CreateJob{ClientID: testkit.ClientA})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	req, err := nethttp.NewRequestWithContext(ctx, "GET", b.baseURL+jobPath(j.ID), nil)
	require.NoError(t, err)
	req.Header = b.auth(testkit.ClientA, testkit.KeyA)
	req.Header.Set("Prefer", "wait=30")
	done := make(chan struct{})
	go func() {
		defer close(done)
		if res, err := nethttp.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	require.Eventually(t, func() bool { return b.app.Changes.Waiting() == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	<-done
	require.Eventually(t, func() bool { return b.app.Changes.Waiting() == 0 }, 2*time.Second, time.Millisecond,
		"the waiter is released when the client goes away, not after 30 s")
}
