package httpapi_test

import (
	"context"
	nethttp "net/http"
	"strconv"
	"strings"
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
	require.Equal(t, 200, first.Status)
	etag := first.Header.Get("ETag")
	require.Regexp(t, `^W/"[0-9a-z]+\.[0-9a-z]+"$`, etag, "a weak ETag: meta differs per response")
	require.Equal(t, "private, max-age=3600", first.Header.Get("Cache-Control"))
	require.Empty(t, first.Header.Get("Retry-After"))

	again := b.do(t, "GET", jobPath(b.done.ID), hdr(), nil)
	require.Equal(t, etag, again.Header.Get("ETag"), "the ETag ignores meta, which differs per request")

	for _, inm := range []string{etag, strings.TrimPrefix(etag, "W/"), `"other", ` + etag, "*"} {
		r := b.do(t, "GET", jobPath(b.done.ID), hdr("If-None-Match", inm), nil)
		require.Equal(t, 304, r.Status, inm)
		require.Empty(t, r.Raw)
		require.Equal(t, etag, r.Header.Get("ETag"))
	}
	r := b.do(t, "GET", jobPath(b.done.ID), hdr("If-None-Match", `"stale"`), nil)
	require.Equal(t, 200, r.Status)

	lastMod := first.Header.Get("Last-Modified")
	require.NotEmpty(t, lastMod, "a finished job says when it finished")
	modified, err := nethttp.ParseTime(lastMod)
	require.NoError(t, err)
	before, after := modified.Add(-time.Hour).Format(nethttp.TimeFormat), modified.Add(time.Hour).Format(nethttp.TimeFormat)

	// RFC 9110 §13.2.2: If-Match, else If-Unmodified-Since; then
	// If-None-Match, else If-Modified-Since.
	conditions := []struct {
		name    string
		headers []string
		status  int
	}{
		{"IfMatchStarPasses", []string{"If-Match", "*"}, 200},
		{"IfMatchWeakTagFails", []string{"If-Match", etag}, 412},
		{"IfMatchOtherTagFails", []string{"If-Match", `"other"`}, 412},
		// A list with "*" in it is outside RFC 9110's grammar ("*" or a
		// list of tags); it is read as Go's net/http reads it, "*" matching.
		{"IfMatchStarInAListPasses", []string{"If-Match", `"other", *`}, 200},
		{"IfNoneMatchStarInAListIs304", []string{"If-None-Match", `"other", *`}, 304},
		{"IfMatchBeatsIfUnmodifiedSince", []string{"If-Match", "*", "If-Unmodified-Since", before}, 200},
		{"IfUnmodifiedSinceLaterPasses", []string{"If-Unmodified-Since", after}, 200},
		{"IfUnmodifiedSinceEarlierFails", []string{"If-Unmodified-Since", before}, 412},
		{"IfUnmodifiedSinceInvalidIsIgnored", []string{"If-Unmodified-Since", "yesterday"}, 200},
		{"IfMatchFailsBeforeIfNoneMatch", []string{"If-Match", `"other"`, "If-None-Match", etag}, 412},
		{"IfNoneMatchOtherIs200", []string{"If-None-Match", `"other"`}, 200},
		{"IfModifiedSinceLaterIs304", []string{"If-Modified-Since", after}, 304},
		{"IfModifiedSinceSameIs304", []string{"If-Modified-Since", lastMod}, 304},
		{"IfModifiedSinceEarlierIs200", []string{"If-Modified-Since", before}, 200},
		{"IfModifiedSinceInvalidIsIgnored", []string{"If-Modified-Since", "soon"}, 200},
		{"IfNoneMatchBeatsIfModifiedSince", []string{"If-None-Match", `"other"`, "If-Modified-Since", after}, 200},
	}
	for _, tt := range conditions {
		t.Run(tt.name, func(t *testing.T) {
			r := b.do(t, "GET", jobPath(b.done.ID), hdr(tt.headers...), nil)
			require.Equal(t, tt.status, r.Status)
			if tt.status == 412 {
				require.Equal(t, "precondition_failed", r.Body["error"].(map[string]any)["type"])
			}
			head := b.do(t, "HEAD", jobPath(b.done.ID), hdr(tt.headers...), nil)
			require.Equal(t, tt.status, head.Status, "HEAD evaluates the same")
		})
	}

	t.Run("PendingHasNoLastModified", func(t *testing.T) {
		r := b.do(t, "GET", jobPath(b.pending.ID), hdr("If-Modified-Since", after), nil)
		require.Equal(t, 200, r.Status, "If-Modified-Since is ignored for a pending job")
		require.Empty(t, r.Header.Get("Last-Modified"))
	})

	t.Run("NoNotModifiedWithoutAccess", func(t *testing.T) {
		h := b.auth(testkit.ClientB, testkit.KeyB)
		h.Set("If-None-Match", etag)
		r := b.do(t, "GET", jobPath(b.done.ID), h, nil)
		require.Equal(t, 404, r.Status, "another client learns nothing, not even a 304")
		h = nethttp.Header{"If-None-Match": {etag}}
		require.Equal(t, 401, b.do(t, "GET", jobPath(b.done.ID), h, nil).Status)
	})

	t.Run("PendingIsNotStoredAndHasRetryAfter", func(t *testing.T) {
		r := b.do(t, "GET", jobPath(b.pending.ID), hdr(), nil)
		require.Equal(t, 200, r.Status)
		require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
		secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
		require.NoError(t, err)
		require.GreaterOrEqual(t, secs, 1)
		require.LessOrEqual(t, secs, 30)
		require.NotEmpty(t, r.Header.Get("ETag"))
	})

	t.Run("ETagChangesWithTheJob", func(t *testing.T) {
		j, err := b.app.CreateJob.Handle(context.Background(), app.CreateJob{ClientID: testkit.ClientA, ETA: time.Hour})
		require.NoError(t, err)
		before := b.do(t, "GET", jobPath(j.ID), hdr(), nil).Header.Get("ETag")
		_, err = b.app.FailJob.Handle(context.Background(), app.FailJob{ID: j.ID.String(), Code: 1, Message: "x"})
		require.NoError(t, err)
		r := b.do(t, "GET", jobPath(j.ID), hdr("If-None-Match", before), nil)
		require.Equal(t, 200, r.Status)
		require.NotEqual(t, before, r.Header.Get("ETag"))
	})
}

func TestPreferWait(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	j, err := b.app.CreateJob.Handle(ctx, app.CreateJob{ClientID: testkit.ClientA, ETA: time.Minute})
	require.NoError(t, err)

	go func() { // completes the job once the request below is parked
		if testkit.Within(10*time.Second, func() bool { return b.app.Changes.Waiting() > 0 }) {
			_, _ = b.app.CompleteJob.Handle(ctx, app.CompleteJob{ID: j.ID.String(), Links: []domain.Link{{Entity: "composition", Href: "/c"}}})
		}
	}()
	h := b.auth(testkit.ClientA, testkit.KeyA)
	h.Set("Prefer", "respond-async, wait=20")
	start := time.Now()
	r := b.do(t, "GET", jobPath(j.ID), h, nil)
	require.Equal(t, 200, r.Status)
	require.Equal(t, "DONE", r.Body["data"].(map[string]any)["status"])
	require.Equal(t, "wait=20", r.Header.Get("Preference-Applied"))
	require.Less(t, time.Since(start), 10*time.Second, "answered on the change, not after the full wait")

	t.Run("CappedAndAppliedOnTimeout", func(t *testing.T) {
		j, err := b.app.CreateJob.Handle(ctx, app.CreateJob{ClientID: testkit.ClientA})
		require.NoError(t, err)
		h := b.auth(testkit.ClientA, testkit.KeyA)
		h.Set("Prefer", "wait=1")
		r := b.do(t, "GET", jobPath(j.ID), h, nil)
		require.Equal(t, 200, r.Status)
		require.Equal(t, "PENDING", r.Body["data"].(map[string]any)["status"])
		require.Equal(t, "wait=1", r.Header.Get("Preference-Applied"))
	})
	t.Run("IgnoredWhenUnreadable", func(t *testing.T) {
		h := b.auth(testkit.ClientA, testkit.KeyA)
		h.Set("Prefer", "wait=soon")
		r := b.do(t, "GET", jobPath(b.pending.ID), h, nil)
		require.Equal(t, 200, r.Status)
		require.Empty(t, r.Header.Get("Preference-Applied"))
	})
}

// TestPreconditionThatCannotPassIsNotHeld: Prefer: wait with an If-Match
// no answer can pass (a tag: every ETag here is weak, If-Match compares
// strongly) answers 412 at once instead of holding a waiter's place for
// the whole wait first; with "*" the request is held as usual.
func TestPreconditionThatCannotPassIsNotHeld(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j, err := b.app.CreateJob.Handle(context.Background(), app.CreateJob{ClientID: testkit.ClientA})
	require.NoError(t, err)
	for _, tags := range []string{`"x"`, `W/"x"`, `"a", "b"`} {
		h := b.auth(testkit.ClientA, testkit.KeyA)
		h.Set("Prefer", "wait=60")
		h.Set("If-Match", tags)
		answered := make(chan int, 1)
		go func() { answered <- b.do(t, "GET", jobPath(j.ID), h, nil).Status }()
		select {
		case status := <-answered:
			require.Equal(t, 412, status, tags)
		case <-time.After(20 * time.Second):
			t.Fatalf("If-Match %s: held, not answered 412 at once", tags)
		}
	}
	h := b.auth(testkit.ClientA, testkit.KeyA)
	h.Set("Prefer", "wait=1")
	h.Set("If-Match", "*")
	r := b.do(t, "GET", jobPath(j.ID), h, nil)
	require.Equal(t, 200, r.Status)
	require.Equal(t, "wait=1", r.Header.Get("Preference-Applied"), "If-Match: * is held")
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

// TestOverduePendingJobKeepsItsAnswer: a PENDING job past its eta is
// presented with one re-estimated eta that stays put, so repeated polls get
// the same eta and ETag, and its own ETag gets 304.
func TestOverduePendingJobKeepsItsAnswer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := time.Now()
	j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: testkit.ClientA, ETA: now.Add(-10 * time.Second), Now: now.Add(-time.Minute)})
	require.NoError(t, err)
	_, _, err = b.repo.Create(context.Background(), j)
	require.NoError(t, err)
	h := b.auth(testkit.ClientA, testkit.KeyA)

	first := b.do(t, "GET", jobPath(j.ID), h, nil)
	require.Equal(t, 200, first.Status)
	eta, err := time.Parse(time.RFC3339, first.Body["data"].(map[string]any)["eta"].(string))
	require.NoError(t, err)
	require.True(t, eta.After(now), "never a date in the past")
	etag := first.Header.Get("ETag")
	for range 3 {
		r := b.do(t, "GET", jobPath(j.ID), h, nil)
		require.Equal(t, first.Body["data"], r.Body["data"], "the same eta on every poll")
		require.Equal(t, etag, r.Header.Get("ETag"))
		require.NotEqual(t, first.Body["meta"], r.Body["meta"], "only meta differs")
	}
	h.Set("If-None-Match", etag)
	r := b.do(t, "GET", jobPath(j.ID), h, nil)
	require.Equal(t, 304, r.Status, "its own ETag is not modified")
	require.NotEmpty(t, r.Header.Get("Retry-After"))
}
