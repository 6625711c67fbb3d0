package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/pgtest"
)

func newJob(t testing.TB, client string, at time.Time) domain.Job {
	t.Helper()
	j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: client, ETA: at.Add(time.Minute), Now: at})
	require.NoError(t, err)
	return j
}

// TestEventsCommitInPositionOrder: writers on many connections create and
// finish jobs while a reader repeatedly reads "position > last". The
// reader must end up with every position there is, each once, in order:
// a position taken earlier never commits after a later one.
func TestEventsCommitInPositionOrder(t *testing.T) {
	t.Parallel()
	jobs, _ := newJobs(t, 5*time.Second)
	ctx := context.Background()
	const writers, perWriter = 8, 40

	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWriter {
				j := newJob(t, "mis-alpha", time.Now())
				if _, _, err := jobs.Create(ctx, j); err != nil {
					t.Error(err)
					return
				}
				o, _ := domain.Done([]domain.Link{{Entity: "composition", Href: "/c"}}, time.Now())
				if _, _, err := jobs.Finish(ctx, j.ID, o); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	writing := make(chan struct{})
	go func() { wg.Wait(); close(writing) }()

	seen := follow(writing, 0, func(after int64) []int64 {
		events, err := jobs.EventsAfter(ctx, "", after, 50)
		require.NoError(t, err)
		ps := make([]int64, len(events))
		for i, e := range events {
			ps[i] = e.Position
		}
		return ps
	})
	total, err := jobs.LastPosition(ctx)
	require.NoError(t, err)
	require.Len(t, seen, writers*perWriter*2, "one event per create and per finish")
	all, err := jobs.EventsAfter(ctx, "", 0, writers*perWriter*2+1)
	require.NoError(t, err)
	want := make([]int64, len(all))
	for i, e := range all {
		want[i] = e.Position
	}
	require.Equal(t, want, seen, "the reader saw every committed position, in order")
	require.Equal(t, want[len(want)-1], total)
}

func TestEventsPerClientHorizonAndRetention(t *testing.T) {
	t.Parallel()
	jobs, _ := newJobs(t, 5*time.Second)
	ctx := context.Background()
	a := newJob(t, "mis-alpha", time.Now())
	b := newJob(t, "mis-beta", time.Now())
	for _, j := range []domain.Job{a, b} {
		_, _, err := jobs.Create(ctx, j)
		require.NoError(t, err)
	}
	o, err := domain.Failed(500, "boom", time.Now())
	require.NoError(t, err)
	_, _, err = jobs.Finish(ctx, a.ID, o)
	require.NoError(t, err)

	events, err := jobs.EventsAfter(ctx, "mis-alpha", 0, 10)
	require.NoError(t, err)
	require.Len(t, events, 2)
	require.Equal(t, domain.StatusPending, events[0].Status, "the creation, whatever the job is now")
	require.Equal(t, domain.StatusFailed, events[1].Status)
	require.Equal(t, domain.StatusFailed, events[1].Job.Status)
	require.Less(t, events[0].Position, events[1].Position)

	betas, err := jobs.EventsAfter(ctx, "mis-beta", 0, 10)
	require.NoError(t, err)
	require.Len(t, betas, 1)

	h, err := jobs.Horizon(ctx)
	require.NoError(t, err)
	require.Zero(t, h)
	n, err := jobs.DeleteEventsBefore(ctx, time.Now().Add(time.Hour), 2)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	h, err = jobs.Horizon(ctx)
	require.NoError(t, err)
	require.Equal(t, betas[0].Position, h, "the two oldest (alpha's creation, beta's) are gone")
	n, err = jobs.DeleteEventsBefore(ctx, time.Now().Add(-time.Hour), 10)
	require.NoError(t, err)
	require.Zero(t, n, "nothing older than an hour")
}

// TestListPagesExactlyOnceUnderInserts is the acceptance test at
// the store: paging through 10 000 jobs (many sharing a creation time)
// while new jobs are inserted returns each pre-existing job exactly once.
func TestListPagesExactlyOnceUnderInserts(t *testing.T) {
	t.Parallel()
	jobs, url := newJobs(t, 5*time.Second)
	ctx := context.Background()
	db, err := postgres.Open(url, pgtest.Pool(1))
	require.NoError(t, err)
	defer db.Close()
	// 10 000 jobs over 1 000 distinct creation times: ties are ordered by id.
	_, err = db.ExecContext(ctx, `INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
		SELECT gen_random_uuid(), 'mis-alpha', 'PENDING', now(), t, t
		FROM generate_series(1, 10000) i, LATERAL (SELECT timestamp '2026-11-01' + (i % 1000) * interval '1 second' AS t) c`)
	require.NoError(t, err)
	var ids []string
	require.NoError(t, db.SelectContext(ctx, &ids, `SELECT id::text FROM async_jobs`))

	h, err := app.NewListJobsHandler(jobs, app.ListConfig{DefaultPageSize: 100, MaxPageSize: 250})
	require.NoError(t, err)
	stop := make(chan struct{})
	inserted := make(chan int)
	go func() {
		n := 0
		defer func() { inserted <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			// New jobs, some at the very times being paged through.
			at := time.Date(2026, 11, 1, 0, 0, n%1000, 0, time.UTC)
			if n%2 == 0 {
				at = time.Now()
			}
			if _, _, err := jobs.Create(ctx, newJob(t, "mis-alpha", at)); err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()
	p := domain.Principal{ClientID: "mis-alpha", Scopes: []string{domain.ScopeCompositionRead}}
	seen := map[domain.ID]int{}
	token := ""
	for {
		page, err := h.Handle(ctx, app.ListJobs{Principal: p, PageSize: "250", PageToken: token})
		require.NoError(t, err)
		for _, j := range page.Jobs {
			seen[j.ID]++
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	close(stop)
	require.Positive(t, <-inserted, "inserts ran while paging")
	for _, id := range ids {
		require.Equal(t, 1, seen[domain.ID(id)], "job %s", id)
	}
	for id, n := range seen {
		require.Equal(t, 1, n, "job %s listed twice", id)
	}
}

// TestReplayFollowsTheEventNotTheJob: replay shows each change as it left
// the job and to the client that owned it then, whatever happened to the
// row since: a change of owner or of id in SQL, or a purge. Events from
// before snapshots (migration 00008) are still read with the job's row.
func TestReplayFollowsTheEventNotTheJob(t *testing.T) {
	t.Parallel()
	jobs, url := newJobs(t, 5*time.Second)
	db, err := postgres.Open(url, pgtest.Pool(2))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	done := func(t *testing.T, client string) domain.Job {
		j := newJob(t, client, time.Now())
		_, _, err := jobs.Create(ctx, j)
		require.NoError(t, err)
		o, err := domain.Done([]domain.Link{{Entity: "composition", Href: "/c/" + j.ID.String()}}, time.Now())
		require.NoError(t, err)
		_, _, err = jobs.Finish(ctx, j.ID, o)
		require.NoError(t, err)
		return j
	}
	replay := func(t *testing.T, client string, id domain.ID) []string {
		t.Helper()
		events, err := jobs.EventsAfter(ctx, client, 0, 1000)
		require.NoError(t, err)
		var got []string
		for _, e := range events {
			if e.Job.ID == id {
				require.Equal(t, client, e.ClientID)
				require.Equal(t, client, e.Job.ClientID)
				require.Equal(t, e.Status, e.Job.Status, "the job as the change left it")
				got = append(got, string(e.Status)+" "+linksOf(e.Job))
			}
		}
		return got
	}
	both := func(j domain.Job) []string { return []string{"PENDING ", "DONE /c/" + j.ID.String()} }

	tests := []struct {
		name   string
		change func(t *testing.T, j domain.Job) // what happens to the row after its two changes
		client string                           // whose replay shows them
	}{
		{"OwnerChangedInSQL", func(t *testing.T, j domain.Job) {
			_, err := db.ExecContext(ctx, `UPDATE async_jobs SET client_id = 'mis-gamma' WHERE id = $1`, j.ID.String())
			require.NoError(t, err)
		}, "mis-owner"},
		{"IDChangedInSQL", func(t *testing.T, j domain.Job) {
			_, err := db.ExecContext(ctx, `UPDATE async_jobs SET id = $1 WHERE id = $2`, domain.NewID().String(), j.ID.String())
			require.NoError(t, err)
		}, "mis-renamed"},
		{"Purged", func(t *testing.T, j domain.Job) {
			_, err := db.ExecContext(ctx, `DELETE FROM async_jobs WHERE id = $1`, j.ID.String())
			require.NoError(t, err)
		}, "mis-purged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := done(t, tt.client)
			require.Equal(t, both(j), replay(t, tt.client, j.ID))
			tt.change(t, j)
			require.Equal(t, both(j), replay(t, tt.client, j.ID), "the same changes, to the same client")
		})
	}

	t.Run("EventsWithoutSnapshotReadTheJob", func(t *testing.T) {
		t.Parallel()
		j := done(t, "mis-legacy")
		_, err := db.ExecContext(ctx, `UPDATE async_job_events SET eta = NULL, links = NULL, op = NULL, event = NULL, created_at = NULL, updated_at = NULL, finished_at = NULL
			WHERE job_id = $1`, j.ID.String())
		require.NoError(t, err)
		events, err := jobs.EventsAfter(ctx, "mis-legacy", 0, 10)
		require.NoError(t, err)
		require.Len(t, events, 2)
		for _, e := range events {
			require.Equal(t, domain.StatusDone, e.Job.Status, "the job as it is now")
			require.Equal(t, "/c/"+j.ID.String(), linksOf(e.Job))
		}
		require.Equal(t, domain.StatusPending, events[0].Status)
		changesOf := func() []ports.Change {
			var mine []ports.Change
			for _, c := range changesAfter(t, jobs, 0) {
				if c.ID == j.ID {
					mine = append(mine, c)
				}
			}
			return mine
		}
		require.Empty(t, changesOf(), "the change log never reads the jobs table: entries without a snapshot lie before any feed's start and are skipped")
		_, err = db.ExecContext(ctx, `DELETE FROM async_jobs WHERE id = $1`, j.ID.String())
		require.NoError(t, err)
		events, err = jobs.EventsAfter(ctx, "mis-legacy", 0, 10)
		require.NoError(t, err)
		require.Empty(t, events, "nothing to show once the job is gone")
		changes := changesOf()
		require.Len(t, changes, 1, "only the delete is left to read")
		require.Equal(t, ports.ChangeDelete, changes[0].Op)
	})
}

func linksOf(j domain.Job) string {
	var hrefs []string
	for _, l := range j.Links {
		hrefs = append(hrefs, l.Href)
	}
	return strings.Join(hrefs, ",")
}
