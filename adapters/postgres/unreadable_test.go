package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/pgtest"
)

// unreadableRows are rows hand-written SQL can store (the schema's
// checks allow them), each with the column the service cannot read: links that are not
// an array of objects with entity and href strings, times that are no
// date ('infinity', lib/pq hands them over as text) or lie outside the
// years 1 to 9999 (RFC 3339 and HTTP dates cannot write them).
var unreadableRows = []struct {
	name, set, column string
	listed            bool // its created_at lies in the listing's range
}{
	{"LinksNumbers", `links = '[1]'`, "links", true},
	{"LinksNull", `links = '[null]'`, "links", true},
	{"LinksNested", `links = '[[]]'`, "links", true},
	{"LinksWithoutHref", `links = '[{"entity": "composition"}]'`, "links", true},
	{"LinksEntityAnArray", `links = '[{"entity": ["composition"], "href": "/c"}]'`, "links", true},
	{"LinksEmptyEntity", `links = '[{"entity": "", "href": "/c"}]'`, "links", true},
	// Links the domain refuses (domain.CheckLink): an href that is no
	// absolute path on the service's host, an entity that is no token.
	{"LinksHrefOfAnotherHost", `links = '[{"entity": "composition", "href": "//evil.example/c"}]'`, "links", true},
	{"LinksHrefAURL", `status = 'DONE', finished_at = now(), links = '[{"entity": "composition", "href": "https://evil.example/c"}]'`, "links", true},
	{"LinksHrefDotSegment", `links = '[{"entity": "composition", "href": "/patients/../admin"}]'`, "links", true},
	{"LinksEntityNotAToken", `links = '[{"entity": "compo sition", "href": "/c"}]'`, "links", true},
	{"EtaInfinity", `eta = 'infinity'`, "eta", true},
	{"EtaMinusInfinity", `eta = '-infinity'`, "eta", true},
	{"EtaYear20000", `eta = '20000-01-01T00:00:00Z'`, "eta", true},
	{"EtaBeforeYearOne", `eta = '0001-12-31T12:00:00Z BC'`, "eta", true},
	{"CreatedAtInfinity", `created_at = 'infinity'`, "created_at", false},
	{"CreatedAtMinusInfinity", `created_at = '-infinity'`, "created_at", false},
	{"CreatedAtYear20000", `created_at = '20000-01-01T00:00:00Z'`, "created_at", false},
	{"UpdatedAtInfinity", `updated_at = 'infinity'`, "updated_at", true},
	{"UpdatedAtYear20000", `updated_at = '20000-01-01T00:00:00Z'`, "updated_at", true},
	{"FinishedAtInfinity", `status = 'FAILED', error_code = 500, error_message = 'x', finished_at = 'infinity'`, "finished_at", true},
	{"FinishedAtMinusInfinity", `status = 'FAILED', error_code = 500, error_message = 'x', finished_at = '-infinity'`, "finished_at", true},
	{"FinishedAtYear20000", `status = 'FAILED', error_code = 500, error_message = 'x', finished_at = '20000-01-01T00:00:00Z'`, "finished_at", true},
}

// TestAJobItCannotReadFailsAlone: a row the service cannot read (one kind
// of each in unreadableRows, as hand-written SQL stores them) fails reads of that job only, with a *domain.UnreadableJobError
// naming the job, its owner and the column. Before, a time that is no
// date failed every statement that read the row: the client's whole
// listing and the change feed (every instance's, at that position, for
// as long as retention kept it), and polls of the job answered 500
// without saying which column.
func TestAJobItCannotReadFailsAlone(t *testing.T) {
	t.Parallel()
	jobs, b := setupLog(t)
	ctx := context.Background()
	const client = "mis-alpha"
	start := head(t, jobs)
	first, _, err := jobs.Create(ctx, newJob(t, client, time.Now()))
	require.NoError(t, err)
	bad := make([]domain.ID, len(unreadableRows))
	var statements []string
	for i, r := range unreadableRows {
		j, _, err := jobs.Create(ctx, newJob(t, client, time.Now()))
		require.NoError(t, err)
		bad[i] = j.ID
		statements = append(statements, `UPDATE async_jobs SET `+r.set+` WHERE id = '`+j.ID.String()+`'`)
	}
	pgtest.WriteUnchecked(t, b.db, statements...)
	last, _, err := jobs.Create(ctx, newJob(t, client, time.Now()))
	require.NoError(t, err)

	for i, r := range unreadableRows {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			want := &domain.UnreadableJobError{ID: bad[i], ClientID: client, Field: r.column}
			_, err := jobs.Get(ctx, bad[i])
			requireUnreadable(t, want, err)
			_, at, err := jobs.GetAt(ctx, bad[i])
			requireUnreadable(t, want, err)
			require.Positive(t, at, "the position it was read at, all the same")
		})
	}
	t.Run("ListingGoesOnAroundThem", func(t *testing.T) {
		t.Parallel()
		listed, err := jobs.ListJobs(ctx, ports.JobListQuery{ClientID: client, Limit: 100})
		require.NoError(t, err, "one such job failed the listing of every other")
		readable, unreadable := map[domain.ID]bool{}, map[domain.ID]string{}
		for _, l := range listed {
			if l.Unreadable != nil {
				require.Equal(t, l.Job.ID, l.Unreadable.ID)
				require.False(t, l.Job.CreatedAt.IsZero(), "its place in the listing")
				unreadable[l.Unreadable.ID] = l.Unreadable.Field
				continue
			}
			readable[l.Job.ID] = true
		}
		require.Equal(t, map[domain.ID]bool{first.ID: true, last.ID: true}, readable)
		want := map[domain.ID]string{}
		for i, r := range unreadableRows {
			if r.listed {
				want[bad[i]] = r.column
			}
		}
		require.Equal(t, want, unreadable, "created_at outside the years 1 to 9999 has no place in a listing")
	})
	t.Run("PagesGoOnPastThem", func(t *testing.T) {
		t.Parallel()
		h, err := app.NewListJobsHandler(jobs, app.ListConfig{DefaultPageSize: 1, MaxPageSize: 1})
		require.NoError(t, err)
		var seen []domain.ID
		token := ""
		for range 3 * len(unreadableRows) {
			page, err := h.Handle(ctx, app.ListJobs{Principal: domain.Principal{ClientID: client, Scopes: []string{domain.ScopeCompositionRead}},
				PageToken: token})
			require.NoError(t, err)
			require.Equal(t, 1, len(page.Jobs)+len(page.Unreadable), "one job a page, readable or not")
			for _, j := range page.Jobs {
				seen = append(seen, j.ID)
			}
			for _, u := range page.Unreadable {
				seen = append(seen, u.ID)
			}
			if token = page.NextPageToken; token == "" {
				break
			}
		}
		listed, err := jobs.ListJobs(ctx, ports.JobListQuery{ClientID: client, Limit: 100})
		require.NoError(t, err)
		var want []domain.ID
		for _, l := range listed {
			want = append(want, l.Job.ID)
		}
		require.Equal(t, want, seen)
	})
	t.Run("TheFeedAndTheStreamGoOnPastThem", func(t *testing.T) {
		t.Parallel()
		changes, _, err := jobs.ChangesAfter(ctx, start, 1000)
		require.NoError(t, err, "the feed cannot get past the entry: every later change is lost to every instance")
		lastOp := map[domain.ID]ports.ChangeOp{}
		for _, c := range changes {
			lastOp[c.ID] = c.Op
		}
		require.Equal(t, ports.ChangePut, lastOp[last.ID])
		for i, r := range unreadableRows {
			require.Equal(t, ports.ChangeUnreadable, lastOp[bad[i]], r.name)
		}
		events, err := jobs.EventsAfter(ctx, client, start, 1000)
		require.NoError(t, err, "the client's stream cannot replay past the entry")
		require.Equal(t, last.ID, events[len(events)-1].Job.ID)
	})
}

// requireUnreadable requires err to be want, whatever its reason.
func requireUnreadable(t *testing.T, want *domain.UnreadableJobError, err error) {
	t.Helper()
	var got *domain.UnreadableJobError
	require.True(t, errors.As(err, &got), "got %v", err)
	require.NotEmpty(t, got.Reason)
	got.Reason = ""
	require.Equal(t, want, got)
}

// TestReplayGoesOnPastABatchOfUnreadableEvents: events whose snapshots
// the service cannot read (jobs inserted by hand with an eta 'infinity')
// fill a whole batch of the replay, and a readable event follows. The
// stream's replay ends when a batch comes back empty, so an empty batch
// once made a client resuming with Last-Event-ID before them skip every
// retained event after them.
func TestReplayGoesOnPastABatchOfUnreadableEvents(t *testing.T) {
	t.Parallel()
	const client, batch = "mis-replay", 3
	jobs, b := setupLog(t)
	start := head(t, jobs)
	ctx := context.Background()
	var statements []string
	for range 2 * batch {
		statements = append(statements, `INSERT INTO async_jobs (id, client_id, status, eta, links, created_at, updated_at)
			VALUES (gen_random_uuid(), '`+client+`', 'PENDING', 'infinity', '[]', now(), now())`)
	}
	pgtest.WriteUnchecked(t, b.db, statements...)
	good, _, err := jobs.Create(ctx, newJob(t, client, time.Now()))
	require.NoError(t, err)
	for _, c := range []string{client, ""} {
		events, err := jobs.EventsAfter(ctx, c, start, batch)
		require.NoError(t, err)
		require.Len(t, events, 1, "client %q: an empty batch ends the replay before the readable event", c)
		require.Equal(t, good.ID, events[0].Job.ID)
		events, err = jobs.EventsAfter(ctx, c, events[0].Position, batch)
		require.NoError(t, err)
		require.Empty(t, events)
	}
}
