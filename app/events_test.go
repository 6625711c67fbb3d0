package app_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

var testFeed = app.FeedConfig{MaxStreams: 3, MaxStreamsPerClient: 2, Poll: time.Hour, ReadTimeout: time.Minute, Batch: 2, Buffer: 8}

// mustFeed returns a feed over repo's change log, handing its batches to
// sinks, not started.
func mustFeed(t *testing.T, repo *memory.Jobs, sinks ...ports.ChangeSink) *app.EventFeed {
	t.Helper()
	f, err := app.NewEventFeed(repo, testFeed, sinks...)
	require.NoError(t, err)
	return f
}

// runFeed starts a feed over repo's change log, rung by repo, handing its
// batches to sinks until the test ends.
func runFeed(t *testing.T, repo *memory.Jobs, sinks ...ports.ChangeSink) *app.EventFeed {
	t.Helper()
	f := mustFeed(t, repo, sinks...)
	repo.SetDoorbell(f.Kick)
	require.NoError(t, f.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, f.Stop(context.Background())) })
	return f
}

// startedFeed returns a running feed over a new store that kicks it.
func startedFeed(t *testing.T) (*memory.Jobs, *app.EventFeed) {
	t.Helper()
	repo := memory.NewJobs()
	return repo, runFeed(t, repo)
}

func createJob(t *testing.T, repo *memory.Jobs, client string, at time.Time) domain.Job {
	t.Helper()
	j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: client, ETA: at.Add(time.Minute), Now: at})
	require.NoError(t, err)
	_, _, err = repo.Create(context.Background(), j)
	require.NoError(t, err)
	return j
}

func finishJob(t *testing.T, repo *memory.Jobs, id domain.ID) {
	t.Helper()
	o, err := domain.Done([]domain.Link{{Entity: "composition", Href: "/c/1"}}, time.Now())
	require.NoError(t, err)
	_, _, err = repo.Finish(context.Background(), id, o)
	require.NoError(t, err)
}

// next reads one change, failing the test after a generous deadline.
func next(t *testing.T, s *app.EventStream) app.Change {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch, err := s.Next(ctx)
	require.NoError(t, err)
	return ch
}

func principal(client string) domain.Principal {
	return domain.Principal{ClientID: client, Scopes: []string{domain.ScopeCompositionRead}}
}

func TestWatchEventsReplaysThenLiveExactlyOnceInOrder(t *testing.T) {
	t.Parallel()
	repo, feed := startedFeed(t)
	h, err := app.NewWatchEventsHandler(feed)
	require.NoError(t, err)
	ctx := context.Background()
	now := time.Now()

	a1 := createJob(t, repo, "mis-alpha", now) // position 1
	createJob(t, repo, "mis-beta", now)        // 2: another client's
	a2 := createJob(t, repo, "mis-alpha", now) // 3
	finishJob(t, repo, a1.ID)                  // 4
	s, err := h.Handle(ctx, app.WatchEvents{Principal: principal("mis-alpha"), LastEventID: "1"})
	require.NoError(t, err)
	defer s.Close()
	finishJob(t, repo, a2.ID) // 5: live, possibly also read by the replay

	var got []int64
	for range 3 {
		ch := next(t, s)
		require.False(t, ch.Reset)
		require.Equal(t, "mis-alpha", ch.Event.ClientID)
		got = append(got, ch.Event.Position)
	}
	require.Equal(t, []int64{3, 4, 5}, got)

	// Nothing more: a short wait ends with the context, not a duplicate.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = s.Next(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestWatchEventsRefusals(t *testing.T) {
	t.Parallel()
	repo, feed := startedFeed(t)
	h, err := app.NewWatchEventsHandler(feed)
	require.NoError(t, err)
	ctx := context.Background()
	createJob(t, repo, "mis-alpha", time.Now())

	t.Run("Scope", func(t *testing.T) {
		_, err := h.Handle(ctx, app.WatchEvents{Principal: domain.Principal{ClientID: "mis-alpha"}})
		var f *domain.ForbiddenError
		require.ErrorAs(t, err, &f)
	})
	for _, id := range []string{"x", "-1", "+1", "1.5", " 1", "1 ", "-99999999999999999999"} {
		t.Run("LastEventID"+id, func(t *testing.T) {
			_, err := h.Handle(ctx, app.WatchEvents{Principal: principal("mis-alpha"), LastEventID: id})
			var v *domain.ValidationError
			require.ErrorAs(t, err, &v)
			require.Equal(t, "Last-Event-ID", v.Field)
		})
	}
	t.Run("PerClientThenTotal", func(t *testing.T) {
		var held []*app.EventStream
		for range testFeed.MaxStreamsPerClient {
			s, err := h.Handle(ctx, app.WatchEvents{Principal: principal("mis-alpha")})
			require.NoError(t, err)
			held = append(held, s)
		}
		_, err := h.Handle(ctx, app.WatchEvents{Principal: principal("mis-alpha")})
		var limited *domain.RateLimitedError
		require.ErrorAs(t, err, &limited)
		s, err := h.Handle(ctx, app.WatchEvents{Principal: principal("mis-beta")})
		require.NoError(t, err)
		held = append(held, s)
		_, err = h.Handle(ctx, app.WatchEvents{Principal: principal("mis-gamma")})
		require.ErrorIs(t, err, domain.ErrUnavailable)
		for _, s := range held {
			s.Close()
		}
		require.Zero(t, feed.Streams())
	})
}

func TestWatchEventsResetPastRetention(t *testing.T) {
	t.Parallel()
	repo, feed := startedFeed(t)
	h, err := app.NewWatchEventsHandler(feed)
	require.NoError(t, err)
	ctx := context.Background()
	for range 3 {
		createJob(t, repo, "mis-alpha", time.Now())
	}
	n, err := repo.DeleteEventsBefore(ctx, time.Now().Add(time.Hour), 2) // positions 1 and 2
	require.NoError(t, err)
	require.Equal(t, 2, n)

	tests := []struct {
		last  string
		reset bool
	}{{"0", true}, {"1", true}, {"2", false}}
	for _, tt := range tests {
		t.Run(tt.last, func(t *testing.T) {
			s, err := h.Handle(ctx, app.WatchEvents{Principal: principal("mis-alpha"), LastEventID: tt.last})
			require.NoError(t, err)
			defer s.Close()
			ch := next(t, s)
			require.Equal(t, tt.reset, ch.Reset)
			if !tt.reset {
				require.Equal(t, int64(3), ch.Event.Position)
			}
		})
	}
}

// TestWatchEventsResetAheadOfLog: an id no event ever had (past the newest
// position, or too large to represent) resets the stream, which then goes
// on live, so the next change is not hidden behind the id.
func TestWatchEventsResetAheadOfLog(t *testing.T) {
	t.Parallel()
	tests := []struct {
		last  string
		reset bool
	}{{"3", false}, {"4", true}, {"1000", true}, {"9223372036854775807", true}, {"99999999999999999999", true}}
	for _, tt := range tests {
		t.Run(tt.last, func(t *testing.T) {
			t.Parallel()
			repo, feed := startedFeed(t)
			h, err := app.NewWatchEventsHandler(feed)
			require.NoError(t, err)
			ctx := context.Background()
			for range 3 {
				createJob(t, repo, "mis-alpha", time.Now())
			}
			s, err := h.Handle(ctx, app.WatchEvents{Principal: principal("mis-alpha"), LastEventID: tt.last})
			require.NoError(t, err)
			defer s.Close()
			if tt.reset {
				ch := next(t, s)
				require.True(t, ch.Reset)
				require.True(t, ch.Unknown)
				require.LessOrEqual(t, ch.Event.Position, int64(3), "the reset's id is where the stream goes on")
			}
			job := createJob(t, repo, "mis-alpha", time.Now())
			ch := next(t, s)
			require.False(t, ch.Reset)
			require.Equal(t, int64(4), ch.Event.Position)
			require.Equal(t, job.ID, ch.Event.Job.ID)
		})
	}
}

func TestEventFeedStopEndsStreams(t *testing.T) {
	t.Parallel()
	repo := memory.NewJobs()
	feed := mustFeed(t, repo)
	require.NoError(t, feed.Start(context.Background()))
	h, err := app.NewWatchEventsHandler(feed)
	require.NoError(t, err)
	s, err := h.Handle(context.Background(), app.WatchEvents{Principal: principal("mis-alpha")})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, feed.Stop(context.Background()))
	_, err = s.Next(context.Background())
	require.ErrorIs(t, err, app.ErrStreamEnded)
	_, err = h.Handle(context.Background(), app.WatchEvents{Principal: principal("mis-alpha")})
	require.ErrorIs(t, err, domain.ErrUnavailable)
}

func TestEventRetentionDeletesInBatches(t *testing.T) {
	t.Parallel()
	repo := memory.NewJobs()
	for range 5 {
		createJob(t, repo, "mis-alpha", time.Now())
	}
	var reports []app.RetentionResult
	r, err := app.NewEventRetention(app.EventRetentionConfig{Interval: time.Hour, Retention: time.Nanosecond, Batch: 2}, repo,
		ports.ClockFunc(func() time.Time { return time.Now().Add(time.Hour) }), func(res app.RetentionResult) { reports = append(reports, res) })
	require.NoError(t, err)
	res := r.RunOnce(context.Background())
	require.Equal(t, app.RetentionResult{Events: 5}, res)
	h, err := repo.Horizon(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(5), h)
	require.Len(t, reports, 1)
}

func TestListJobs(t *testing.T) {
	t.Parallel()
	repo := memory.NewJobs()
	h, err := app.NewListJobsHandler(repo, app.ListConfig{DefaultPageSize: 2, MaxPageSize: 3})
	require.NoError(t, err)
	ctx := context.Background()
	base := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	var jobs []domain.Job
	for i := range 5 {
		jobs = append(jobs, createJob(t, repo, "mis-alpha", base.Add(time.Duration(i)*time.Second)))
	}
	createJob(t, repo, "mis-beta", base)

	t.Run("PagesNewestFirst", func(t *testing.T) {
		t.Parallel()
		var seen []domain.ID
		token := ""
		for {
			page, err := h.Handle(ctx, app.ListJobs{Principal: principal("mis-alpha"), PageToken: token})
			require.NoError(t, err)
			for _, j := range page.Jobs {
				seen = append(seen, j.ID)
			}
			if page.NextPageToken == "" {
				break
			}
			token = page.NextPageToken
		}
		var want []domain.ID
		for i := len(jobs) - 1; i >= 0; i-- {
			want = append(want, jobs[i].ID)
		}
		require.Equal(t, want, seen[:len(want)])
	})
	t.Run("PageSizeWithLeadingZeros", func(t *testing.T) {
		t.Parallel()
		page, err := h.Handle(ctx, app.ListJobs{Principal: principal("mis-alpha"), PageSize: "001"})
		require.NoError(t, err)
		require.Len(t, page.Jobs, 1, "digits only: leading zeros are digits")
	})
	t.Run("PageTokenAsWritten", func(t *testing.T) {
		t.Parallel()
		for _, pos := range []string{"1764331200000000000", "253402300799999999us", "-62135596800000000us"} {
			_, err := h.Handle(ctx, app.ListJobs{Principal: principal("mis-alpha"), PageToken: cursorToken(pos)})
			require.NoError(t, err, pos)
		}
	})
	t.Run("Filters", func(t *testing.T) {
		t.Parallel()
		page, err := h.Handle(ctx, app.ListJobs{Principal: principal("mis-alpha"), Status: "PENDING", PageSize: "100",
			CreatedFrom: base.Add(time.Second).Format(time.RFC3339), CreatedTo: base.Add(3 * time.Second).Format(time.RFC3339)})
		require.NoError(t, err)
		require.Len(t, page.Jobs, 2)
		require.Equal(t, jobs[2].ID, page.Jobs[0].ID)
		require.Equal(t, jobs[1].ID, page.Jobs[1].ID)
		page, err = h.Handle(ctx, app.ListJobs{Principal: principal("mis-alpha"), PageSize: "100"})
		require.NoError(t, err)
		require.Len(t, page.Jobs, 3, "page_size is capped")
	})
	t.Run("CreatedToAtOrBeforeYearOneListsNothing", func(t *testing.T) {
		t.Parallel()
		// The zero time is "no bound" to the port; sent as created_to, it
		// is a bound that no job is created before.
		for _, to := range []string{"0001-01-01T00:00:00Z", "0001-01-01T01:00:00+01:00", "0000-12-31T23:59:59.9999999Z", "0000-06-01T00:00:00Z"} {
			page, err := h.Handle(ctx, app.ListJobs{Principal: principal("mis-alpha"), CreatedTo: to})
			require.NoError(t, err, to)
			require.Empty(t, page.Jobs, "created_to=%s", to)
			require.Empty(t, page.NextPageToken, to)
		}
	})
	t.Run("CreatedBoundsAsRFC3339WritesThem", func(t *testing.T) {
		t.Parallel()
		before := func(bound string) []domain.ID {
			page, err := h.Handle(ctx, app.ListJobs{Principal: principal("mis-alpha"), PageSize: "100", CreatedTo: bound})
			require.NoError(t, err, bound)
			ids := make([]domain.ID, len(page.Jobs))
			for i, j := range page.Jobs {
				ids[i] = j.ID
			}
			return ids
		}
		// RFC 3339's t and z may be lower case.
		require.Equal(t, []domain.ID{jobs[0].ID}, before("2026-11-28t12:00:01z"))
		// Digits past nanoseconds count: 12:00:01 is before this bound.
		require.Equal(t, []domain.ID{jobs[1].ID, jobs[0].ID}, before("2026-11-28T12:00:01.0000000001Z"))
		require.Equal(t, []domain.ID{jobs[0].ID}, before("2026-11-28T12:00:01.0000000000Z"))
		// A leap second is the instant after 23:59:59 UTC, in any offset.
		for _, leap := range []string{"2016-12-31T23:59:60Z", "2017-01-01T05:29:60+05:30", "2016-12-31T23:59:60.5z"} {
			_, err := h.Handle(ctx, app.ListJobs{Principal: principal("mis-alpha"), CreatedTo: leap})
			require.NoError(t, err, leap)
		}
	})
	bad := []struct {
		name  string
		q     app.ListJobs
		field string
	}{
		// time.Parse takes these; RFC 3339 does not.
		{"CreatedFromOneDigitHour", app.ListJobs{CreatedFrom: "2026-11-28T1:00:00Z"}, "created_from"},
		{"CreatedFromCommaFraction", app.ListJobs{CreatedFrom: "2026-11-28T01:00:00,5Z"}, "created_from"},
		{"CreatedFromOffsetMinute60", app.ListJobs{CreatedFrom: "2026-11-28T01:00:00+01:60"}, "created_from"},
		{"CreatedToOffsetHour24", app.ListJobs{CreatedTo: "2026-11-28T01:00:00+24:00"}, "created_to"},
		{"CreatedToEmptyFraction", app.ListJobs{CreatedTo: "2026-11-28T01:00:00.Z"}, "created_to"},
		{"CreatedToShortOffset", app.ListJobs{CreatedTo: "2026-11-28T01:00:00+0100"}, "created_to"},
		{"CreatedToSpace", app.ListJobs{CreatedTo: "2026-11-28 01:00:00Z"}, "created_to"},
		{"CreatedToLeapSecondMidDay", app.ListJobs{CreatedTo: "2016-12-31T12:00:60Z"}, "created_to"},
		{"CreatedToArabicIndicDigit", app.ListJobs{CreatedTo: "2026-11-28T01:00:0\u0663Z"}, "created_to"},
		{"Status", app.ListJobs{Status: "pending"}, "status"},
		{"CreatedFrom", app.ListJobs{CreatedFrom: "yesterday"}, "created_from"},
		{"CreatedTo", app.ListJobs{CreatedTo: "2026-13-01T00:00:00Z"}, "created_to"},
		{"EmptyRange", app.ListJobs{CreatedFrom: "2026-11-28T00:00:00Z", CreatedTo: "2026-11-28T00:00:00Z"}, "created_to"},
		{"EmptyRangeAtYearOne", app.ListJobs{CreatedFrom: "0001-01-01T00:00:00Z", CreatedTo: "0001-01-01T00:00:00Z"}, "created_to"},
		{"PageSizeZero", app.ListJobs{PageSize: "0"}, "page_size"},
		{"PageSizeWord", app.ListJobs{PageSize: "ten"}, "page_size"},
		{"PageSizeNegative", app.ListJobs{PageSize: "-1"}, "page_size"},
		// page_size is digits only (docs/http-api.md): no sign, space,
		// base prefix, exponent, fraction, separator or non-ASCII digit.
		{"PageSizePlus", app.ListJobs{PageSize: "+3"}, "page_size"},
		{"PageSizeMinusZero", app.ListJobs{PageSize: "-0"}, "page_size"},
		{"PageSizePlusHuge", app.ListJobs{PageSize: "+99999999999999999999"}, "page_size"},
		{"PageSizeLeadingSpace", app.ListJobs{PageSize: " 3"}, "page_size"},
		{"PageSizeTrailingSpace", app.ListJobs{PageSize: "3 "}, "page_size"},
		{"PageSizeHex", app.ListJobs{PageSize: "0x10"}, "page_size"},
		{"PageSizeExponent", app.ListJobs{PageSize: "1e2"}, "page_size"},
		{"PageSizeFraction", app.ListJobs{PageSize: "2.0"}, "page_size"},
		{"PageSizeUnderscore", app.ListJobs{PageSize: "1_0"}, "page_size"},
		{"PageSizeArabicIndicDigit", app.ListJobs{PageSize: "\u0663"}, "page_size"},
		{"PageSizeFullwidthDigit", app.ListJobs{PageSize: "\uff13"}, "page_size"},
		{"PageTokenNotBase64", app.ListJobs{PageToken: "!!"}, "page_token"},
		// A page token holds a number too: only as encodeCursor writes it.
		{"PageTokenPlus", app.ListJobs{PageToken: cursorToken("+1764331200000000000")}, "page_token"},
		{"PageTokenLeadingZero", app.ListJobs{PageToken: cursorToken("01764331200000000000")}, "page_token"},
		{"PageTokenMinusZero", app.ListJobs{PageToken: cursorToken("-0")}, "page_token"},
		{"PageTokenSpace", app.ListJobs{PageToken: cursorToken(" 1764331200000000000")}, "page_token"},
		{"PageTokenNonCanonicalBase64", app.ListJobs{PageToken: flipLastBit(cursorToken("1764331200000000000"))}, "page_token"},
		{"PageTokenNoID", app.ListJobs{PageToken: "MTIz"}, "page_token"},
		{"PageTokenBadID", app.ListJobs{PageToken: "MTIzLHg"}, "page_token"},
		// Microseconds only where nanoseconds cannot say it: one spelling per position.
		{"PageTokenMicrosecondsInTheNanosecondRange", app.ListJobs{PageToken: cursorToken("1764331200000000us")}, "page_token"},
		{"PageTokenMicrosecondsWithoutDigits", app.ListJobs{PageToken: cursorToken("us")}, "page_token"},
		{"PageTokenMicrosecondsPlus", app.ListJobs{PageToken: cursorToken("+253402300799999999us")}, "page_token"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.q.Principal = principal("mis-alpha")
			_, err := h.Handle(ctx, tt.q)
			var v *domain.ValidationError
			require.True(t, errors.As(err, &v), "got %v", err)
			require.Equal(t, tt.field, v.Field)
		})
	}
}

// cursorToken is a page token holding position ns and a fixed id, encoded
// as the service encodes its tokens.
func cursorToken(ns string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(ns + ",89678f60-4cdc-4fe3-ae83-e8b3ebd35c59"))
}

// flipLastBit sets a stray low bit in the last character of a base64url
// string: the same bytes, written another way.
func flipLastBit(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i^1])
}
