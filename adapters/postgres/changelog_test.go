package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/pgtest"
)

// logBundle is what a change log test works with: the repository and a
// pool of its own for hand-written SQL, on a fresh schema.
type logBundle struct {
	db  *sqlx.DB
	url string
}

func setupLog(t *testing.T) (*postgres.Jobs, *logBundle) {
	t.Helper()
	jobs, url := newJobs(t, 10*time.Second)
	db, err := postgres.Open(url, pgtest.Pool(4))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return jobs, &logBundle{db: db, url: url}
}

// setupLogWithAJob is setupLog with one job created ("mis-alpha"'s,
// PENDING) and the head after it.
func setupLogWithAJob(t *testing.T) (*postgres.Jobs, *logBundle, domain.Job, int64) {
	t.Helper()
	jobs, b := setupLog(t)
	j := newJob(t, "mis-alpha", time.Now())
	_, _, err := jobs.Create(context.Background(), j)
	require.NoError(t, err)
	return jobs, b, j, head(t, jobs)
}

// begin starts a transaction, rolled back at the test's end unless
// committed.
func (b *logBundle) begin(t *testing.T) *sqlx.Tx {
	t.Helper()
	tx, err := b.db.BeginTxx(context.Background(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback() })
	return tx
}

func (b *logBundle) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	_, err := b.db.ExecContext(context.Background(), q, args...)
	require.NoError(t, err)
}

// changesAfter reads the whole log after a position.
func changesAfter(t *testing.T, jobs *postgres.Jobs, after int64) []ports.Change {
	t.Helper()
	changes, _, err := jobs.ChangesAfter(context.Background(), after, 100000)
	require.NoError(t, err)
	return changes
}

// follow is a reader following the log while writing is open, then to
// its end: the positions read reads after each last one, from after on.
func follow(writing <-chan struct{}, after int64, read func(after int64) []int64) []int64 {
	var seen []int64
	for done := false; ; {
		select {
		case <-writing:
			done = true
		default:
		}
		ps := read(after)
		if done && len(ps) == 0 {
			return seen
		}
		for _, p := range ps {
			seen = append(seen, p)
			after = p
		}
	}
}

// changePositions reads the positions of at most n changes after after.
func changePositions(t *testing.T, jobs *postgres.Jobs, n int) func(after int64) []int64 {
	return func(after int64) []int64 {
		changes, _, err := jobs.ChangesAfter(context.Background(), after, n)
		require.NoError(t, err)
		ps := make([]int64, len(changes))
		for i, c := range changes {
			require.Greater(t, c.Position, after)
			ps[i] = c.Position
		}
		return ps
	}
}

func head(t *testing.T, jobs *postgres.Jobs) int64 {
	t.Helper()
	h, err := jobs.LastPosition(context.Background())
	require.NoError(t, err)
	return h
}

// entry is what a test expects of a change: its operation, the job, the
// owner it had, and whether the stream shows it.
type entry struct {
	Op       ports.ChangeOp
	ID       domain.ID
	ClientID string
	Event    bool
}

func put(id domain.ID, client string, event bool) entry {
	return entry{Op: ports.ChangePut, ID: id, ClientID: client, Event: event}
}

func del(id domain.ID, client string) entry {
	return entry{Op: ports.ChangeDelete, ID: id, ClientID: client}
}

// TestChangeLogRecordsEveryChange: every kind of change of a job, through
// the repository or hand-written SQL, is one entry (two for an id change)
// with a position above every earlier one, the head moves to the last,
// and a put carries the job as the change left it, with the job's version,
// taken before the put's position (migration 00012).
func TestChangeLogRecordsEveryChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	links := []domain.Link{{Entity: "composition", Href: "/c"}}
	finish := func(t *testing.T, jobs *postgres.Jobs, id domain.ID) {
		o, err := domain.Done(links, time.Now())
		require.NoError(t, err)
		_, changed, err := jobs.Finish(ctx, id, o)
		require.NoError(t, err)
		require.True(t, changed)
	}
	fail := func(t *testing.T, jobs *postgres.Jobs, id domain.ID) {
		o, err := domain.Failed(500, "boom", time.Now())
		require.NoError(t, err)
		_, changed, err := jobs.Finish(ctx, id, o)
		require.NoError(t, err)
		require.True(t, changed)
	}
	tests := []struct {
		name string
		// change changes the job j ("mis-alpha"'s, PENDING) and says what
		// the log must record.
		change func(t *testing.T, jobs *postgres.Jobs, b *logBundle, j domain.Job) []entry
	}{
		{"CreateThroughTheRepository", func(t *testing.T, jobs *postgres.Jobs, _ *logBundle, _ domain.Job) []entry {
			k := newJob(t, "mis-beta", time.Now())
			_, _, err := jobs.Create(ctx, k)
			require.NoError(t, err)
			return []entry{put(k.ID, "mis-beta", true)}
		}},
		{"CreateInSQL", func(t *testing.T, _ *postgres.Jobs, b *logBundle, _ domain.Job) []entry {
			id := domain.NewID()
			b.exec(t, `INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
				VALUES ($1, 'mis-beta', 'PENDING', now(), now(), now())`, id.String())
			return []entry{put(id, "mis-beta", true)}
		}},
		{"FinishThroughTheRepository", func(t *testing.T, jobs *postgres.Jobs, _ *logBundle, j domain.Job) []entry {
			finish(t, jobs, j.ID)
			return []entry{put(j.ID, "mis-alpha", true)}
		}},
		{"SweptThroughTheRepository", func(t *testing.T, jobs *postgres.Jobs, _ *logBundle, j domain.Job) []entry {
			n, err := jobs.FailPendingCreatedBefore(ctx, time.Now().Add(time.Hour), domain.TimedOut(time.Now()), 10)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			return []entry{put(j.ID, "mis-alpha", true)}
		}},
		{"StatusInSQL", func(t *testing.T, _ *postgres.Jobs, b *logBundle, j domain.Job) []entry {
			b.exec(t, `UPDATE async_jobs SET status = 'FAILED', error_code = 500, error_message = 'x', finished_at = now()
				WHERE id = $1`, j.ID.String())
			return []entry{put(j.ID, "mis-alpha", true)}
		}},
		{"ETAInSQL", func(t *testing.T, _ *postgres.Jobs, b *logBundle, j domain.Job) []entry {
			b.exec(t, `UPDATE async_jobs SET eta = eta + interval '1 minute' WHERE id = $1`, j.ID.String())
			return []entry{put(j.ID, "mis-alpha", false)}
		}},
		{"LinksInSQL", func(t *testing.T, jobs *postgres.Jobs, b *logBundle, j domain.Job) []entry {
			finish(t, jobs, j.ID)
			b.exec(t, `UPDATE async_jobs SET links = '[{"entity":"composition","href":"/other"}]' WHERE id = $1`, j.ID.String())
			return []entry{put(j.ID, "mis-alpha", true), put(j.ID, "mis-alpha", false)}
		}},
		{"ErrorInSQL", func(t *testing.T, jobs *postgres.Jobs, b *logBundle, j domain.Job) []entry {
			fail(t, jobs, j.ID)
			b.exec(t, `UPDATE async_jobs SET error_code = 502, error_message = 'other' WHERE id = $1`, j.ID.String())
			return []entry{put(j.ID, "mis-alpha", true), put(j.ID, "mis-alpha", false)}
		}},
		{"OwnerInSQL", func(t *testing.T, _ *postgres.Jobs, b *logBundle, j domain.Job) []entry {
			b.exec(t, `UPDATE async_jobs SET client_id = 'mis-gamma' WHERE id = $1`, j.ID.String())
			return []entry{put(j.ID, "mis-gamma", false)}
		}},
		{"UpdateChangingNothingInSQL", func(t *testing.T, _ *postgres.Jobs, b *logBundle, j domain.Job) []entry {
			b.exec(t, `UPDATE async_jobs SET status = status WHERE id = $1`, j.ID.String())
			return []entry{put(j.ID, "mis-alpha", false)}
		}},
		{"IDInSQL", func(t *testing.T, _ *postgres.Jobs, b *logBundle, j domain.Job) []entry {
			moved := domain.NewID()
			b.exec(t, `UPDATE async_jobs SET id = $1 WHERE id = $2`, moved.String(), j.ID.String())
			return []entry{put(moved, "mis-alpha", false), del(j.ID, "mis-alpha")}
		}},
		{"IDAndStatusInSQL", func(t *testing.T, _ *postgres.Jobs, b *logBundle, j domain.Job) []entry {
			moved := domain.NewID()
			b.exec(t, `UPDATE async_jobs SET id = $1, status = 'FAILED', error_code = 500, error_message = 'x', finished_at = now()
				WHERE id = $2`, moved.String(), j.ID.String())
			return []entry{put(moved, "mis-alpha", true), del(j.ID, "mis-alpha")}
		}},
		{"IDTakenOverInOneStatement", func(t *testing.T, _ *postgres.Jobs, b *logBundle, j domain.Job) []entry {
			// j moves to a new id and k, written after it, takes j's: j's
			// id is not gone, k's is. (The rows are read in the order they
			// were written, so that j's id is free when k takes it.)
			k, moved := domain.NewID(), domain.NewID()
			b.exec(t, `INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
				VALUES ($1, 'mis-beta', 'PENDING', now(), now(), now())`, k.String())
			tx, err := b.db.BeginTxx(ctx, nil)
			require.NoError(t, err)
			defer func() { _ = tx.Rollback() }()
			_, err = tx.ExecContext(ctx, `SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off`)
			require.NoError(t, err)
			_, err = tx.ExecContext(ctx, `UPDATE async_jobs SET id = CASE id WHEN $1::uuid THEN $2::uuid ELSE $1::uuid END
				WHERE id IN ($1, $3)`, j.ID.String(), moved.String(), k.String())
			require.NoError(t, err)
			require.NoError(t, tx.Commit())
			return []entry{put(k, "mis-beta", true), put(moved, "mis-alpha", false), put(j.ID, "mis-beta", false), del(k, "mis-beta")}
		}},
		{"DeleteInSQL", func(t *testing.T, _ *postgres.Jobs, b *logBundle, j domain.Job) []entry {
			b.exec(t, `DELETE FROM async_jobs WHERE id = $1`, j.ID.String())
			return []entry{del(j.ID, "mis-alpha")}
		}},
		{"PurgeThroughTheRepository", func(t *testing.T, jobs *postgres.Jobs, _ *logBundle, j domain.Job) []entry {
			finish(t, jobs, j.ID)
			n, err := jobs.DeleteFinishedBefore(ctx, time.Now().Add(time.Hour), 10)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			return []entry{put(j.ID, "mis-alpha", true), del(j.ID, "mis-alpha")}
		}},
		{"TruncateInSQL", func(t *testing.T, _ *postgres.Jobs, b *logBundle, _ domain.Job) []entry {
			b.exec(t, `TRUNCATE async_jobs`)
			return []entry{{Op: ports.ChangeTruncate}}
		}},
		{"SeveralRowsInOneStatement", func(t *testing.T, jobs *postgres.Jobs, b *logBundle, j domain.Job) []entry {
			b.exec(t, `INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
				VALUES ('00000000-0000-4000-8000-000000000001', 'mis-beta', 'PENDING', now(), now(), now()),
				       ('00000000-0000-4000-8000-000000000002', 'mis-beta', 'PENDING', now(), now(), now())`)
			return []entry{put("00000000-0000-4000-8000-000000000001", "mis-beta", true),
				put("00000000-0000-4000-8000-000000000002", "mis-beta", true)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			jobs, b := setupLog(t)
			j := newJob(t, "mis-alpha", time.Now().Add(-time.Minute))
			created, _, err := jobs.Create(ctx, j)
			require.NoError(t, err)
			before := head(t, jobs)
			require.Less(t, created.Version, before, "the create is the head, above its version")
			created.Version = 0
			require.Equal(t, j, created)

			want := tt.change(t, jobs, b, j)
			changes := changesAfter(t, jobs, before)
			got := make([]entry, len(changes))
			last := before
			for i, c := range changes {
				got[i] = entry{Op: c.Op, ID: c.ID, ClientID: c.Job.ClientID, Event: c.Event}
				require.Greater(t, c.Position, last, "positions grow")
				last = c.Position
				require.Equal(t, c.ID, c.Job.ID)
				if c.Op == ports.ChangePut {
					require.Less(t, c.Job.Version, c.Position, "a put's version is taken before its position")
				}
			}
			require.Equal(t, want, got)
			require.Equal(t, last, head(t, jobs), "the head is the last change")

			// The last put of a job still there is the job as it is.
			latest := map[domain.ID]ports.Change{}
			for _, c := range changes {
				if c.Op == ports.ChangeTruncate {
					clear(latest)
					c.ID = j.ID // gone with the rest
				}
				latest[c.ID] = c
			}
			for id, c := range latest {
				now, err := jobs.Get(ctx, id)
				if c.Op != ports.ChangePut {
					require.ErrorIs(t, err, domain.ErrNotFound)
					continue
				}
				require.NoError(t, err)
				require.Equal(t, now, c.Job, "the put's snapshot")
			}
		})
	}
}

// TestChangePositionsCommitInOrder: writers on many connections run
// transactions of random length (inserts, updates and deletes, some rolled
// back, holding the log's lock while they sleep) while a reader
// repeatedly reads the changes after the last position it saw. What it
// saw, piece by piece, is the whole log: no position committed after the
// reader passed it.
func TestChangePositionsCommitInOrder(t *testing.T) {
	t.Parallel()
	jobs, b := setupLog(t)
	ctx := context.Background()
	const writers, txPerWriter = 6, 25

	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			var mine []domain.ID
			for range txPerWriter {
				tx, err := b.db.BeginTxx(ctx, nil)
				if err != nil {
					t.Error(err)
					return
				}
				var created []domain.ID
				for range 1 + rnd.IntN(4) {
					var err error
					switch k := rnd.IntN(3); {
					case k == 0 || len(mine) == 0:
						id := domain.NewID()
						_, err = tx.ExecContext(ctx, `INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
							VALUES ($1, 'mis-alpha', 'PENDING', now(), now(), now())`, id.String())
						created = append(created, id)
					case k == 1:
						_, err = tx.ExecContext(ctx, `UPDATE async_jobs SET eta = eta + interval '1 second' WHERE id = $1`,
							mine[rnd.IntN(len(mine))].String())
					default:
						_, err = tx.ExecContext(ctx, `DELETE FROM async_jobs WHERE id = $1`, mine[rnd.IntN(len(mine))].String())
					}
					if err == nil {
						_, err = tx.ExecContext(ctx, `SELECT pg_sleep($1)`, rnd.Float64()*0.003)
					}
					if err != nil {
						t.Error(err)
						_ = tx.Rollback()
						return
					}
				}
				if rnd.IntN(6) == 0 {
					err = tx.Rollback()
				} else {
					err = tx.Commit()
					mine = append(mine, created...)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	writing := make(chan struct{})
	go func() { wg.Wait(); close(writing) }()

	seen := follow(writing, 0, changePositions(t, jobs, 20))
	all := changesAfter(t, jobs, 0)
	want := make([]int64, len(all))
	for i, c := range all {
		want[i] = c.Position
	}
	require.NotEmpty(t, want)
	require.Equal(t, want, seen, "the reader saw every committed position, in order")
	require.Equal(t, want[len(want)-1], head(t, jobs))
}

// TestGetAtReadsAtItsPosition: a job read with GetAt reflects every change
// up to the position it answers and none after, whether the job is there
// or not, while writers hold the log's lock.
func TestGetAtReadsAtItsPosition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("WriterInProgress", func(t *testing.T) {
		t.Parallel()
		jobs, b := setupLog(t)
		j := newJob(t, "mis-alpha", time.Now())
		created, _, err := jobs.Create(ctx, j)
		require.NoError(t, err)
		got, at, err := jobs.GetAt(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, created, got)
		require.Greater(t, at, created.Version, "the create's position, above its version")
		before := at

		tx, err := b.db.BeginTxx(ctx, nil)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback() }()
		var pos int64
		require.NoError(t, tx.GetContext(ctx, &pos,
			`UPDATE async_jobs SET eta = eta + interval '1 hour' WHERE id = $1 RETURNING version`, j.ID.String()))
		got, at, err = jobs.GetAt(ctx, j.ID)
		require.NoError(t, err, "a writer holding the lock does not hold readers")
		require.Equal(t, created, got, "the uncommitted change is not there")
		require.Equal(t, before, at, "nor its position")
		require.Less(t, at, pos)
		require.NoError(t, tx.Commit())

		got, at, err = jobs.GetAt(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, pos, got.Version)
		require.Greater(t, at, pos, "the change's position, above its version")
		require.Equal(t, created.ETA.Add(time.Hour), got.ETA)
	})

	t.Run("NotFoundCarriesItsPosition", func(t *testing.T) {
		t.Parallel()
		jobs, b := setupLog(t)
		_, at, err := jobs.GetAt(ctx, domain.NewID())
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.Zero(t, at, "an empty log")

		j := newJob(t, "mis-alpha", time.Now())
		_, _, err = jobs.Create(ctx, j)
		require.NoError(t, err)
		b.exec(t, `DELETE FROM async_jobs WHERE id = $1`, j.ID.String())
		changes := changesAfter(t, jobs, 0)
		gone := changes[len(changes)-1]
		require.Equal(t, ports.ChangeDelete, gone.Op)
		_, at, err = jobs.GetAt(ctx, j.ID)
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.GreaterOrEqual(t, at, gone.Position, "not found since the delete")
	})

	t.Run("EveryAnswerMatchesTheLog", func(t *testing.T) {
		t.Parallel()
		jobs, b := setupLog(t)
		j := newJob(t, "mis-alpha", time.Now())
		_, _, err := jobs.Create(ctx, j)
		require.NoError(t, err)
		type answer struct {
			at, version int64 // version 0: not found
		}
		var answers []answer
		stop := make(chan struct{})
		read := make(chan struct{})
		go func() {
			defer close(read)
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, at, err := jobs.GetAt(ctx, j.ID)
				switch {
				case errors.Is(err, domain.ErrNotFound):
					answers = append(answers, answer{at: at})
				case err != nil:
					t.Error(err)
					return
				default:
					answers = append(answers, answer{at: at, version: got.Version})
				}
			}
		}()
		// Updates, a delete and a re-create of the same id, in
		// transactions that hold the lock a while.
		for i := range 30 {
			q := `UPDATE async_jobs SET eta = eta + interval '1 second' WHERE id = $1`
			switch i % 6 {
			case 4:
				q = `DELETE FROM async_jobs WHERE id = $1`
			case 5:
				q = `INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
					VALUES ($1, 'mis-alpha', 'PENDING', now(), now(), now())`
			}
			tx, err := b.db.BeginTxx(ctx, nil)
			require.NoError(t, err)
			_, err = tx.ExecContext(ctx, q, j.ID.String())
			require.NoError(t, err)
			_, err = tx.ExecContext(ctx, `SELECT pg_sleep(0.002)`)
			require.NoError(t, err)
			require.NoError(t, tx.Commit())
		}
		close(stop)
		<-read
		log := changesAfter(t, jobs, 0)
		require.NotEmpty(t, answers)
		for _, a := range answers {
			var want int64 // the last change at or before a.at: a put's version, or 0
			for _, c := range log {
				if c.Position > a.at {
					break
				}
				want = 0
				if c.Op == ports.ChangePut {
					want = c.Job.Version
				}
			}
			require.Equal(t, want, a.version, "the answer at %d is the log's state there", a.at)
		}
		t.Logf("%d answers", len(answers))
	})
}

// TestHeadSkipsRolledBackWriters: a rolled-back writer's position is never
// the head, and the next committed change's is.
func TestHeadSkipsRolledBackWriters(t *testing.T) {
	t.Parallel()
	jobs, b := setupLog(t)
	ctx := context.Background()
	_, _, err := jobs.Create(ctx, newJob(t, "mis-alpha", time.Now()))
	require.NoError(t, err)
	before := head(t, jobs)

	tx, err := b.db.BeginTxx(ctx, nil)
	require.NoError(t, err)
	inTx := jobs.WithTx(tx)
	rolled, _, err := inTx.Create(ctx, newJob(t, "mis-alpha", time.Now()))
	require.NoError(t, err)
	require.Greater(t, rolled.Version, before)
	require.NoError(t, tx.Rollback())
	require.Equal(t, before, head(t, jobs), "the head did not move")
	require.Empty(t, changesAfter(t, jobs, before))

	next, _, err := jobs.Create(ctx, newJob(t, "mis-alpha", time.Now()))
	require.NoError(t, err)
	require.Greater(t, next.Version, rolled.Version)
	changes := changesAfter(t, jobs, before)
	require.Len(t, changes, 1)
	require.Equal(t, next, changes[0].Job)
	require.Equal(t, changes[0].Position, head(t, jobs))
}

// TestHeadFollowsSmallStatements: writers move the head row only every
// 256 positions (00011); the head a reader gets is still the last change,
// statement after statement past several moves of the row, in
// LastPosition and in GetAt alike, and after retention deleted every
// entry above the row.
func TestHeadFollowsSmallStatements(t *testing.T) {
	t.Parallel()
	jobs, b := setupLog(t)
	ctx := context.Background()
	row := func() int64 {
		t.Helper()
		var p int64
		require.NoError(t, b.db.GetContext(ctx, &p, `SELECT position FROM async_job_events_head`))
		return p
	}
	// logged is the last position in the log: the truth the head must be.
	logged := func() int64 {
		t.Helper()
		var p int64
		require.NoError(t, b.db.GetContext(ctx, &p, `SELECT coalesce(max(position), 0) FROM async_job_events`))
		return p
	}
	first := row()
	var last domain.Job
	for i := range 400 { // a create takes three values of the sequence, an update two
		j, _, err := jobs.Create(ctx, newJob(t, "mis-alpha", time.Now()))
		require.NoError(t, err)
		last = j
		if i%2 == 1 {
			b.exec(t, `UPDATE async_jobs SET eta = eta + interval '1 minute' WHERE id = $1`, j.ID.String())
			last, err = jobs.Get(ctx, j.ID)
			require.NoError(t, err)
		}
		want := logged()
		require.Equal(t, want, head(t, jobs), "after statement %d", i)
		got, at, err := jobs.GetAt(ctx, last.ID)
		require.NoError(t, err)
		require.Equal(t, want, at, "GetAt after statement %d", i)
		require.Equal(t, last, got)
	}
	require.Greater(t, row(), first+256, "the row moved, more than once")
	require.Less(t, logged()-row(), int64(256), "and stays within its window")

	// Retention deletes every entry, those above the row included: the head
	// stays the last change, and moves with the next one.
	want := logged()
	n, err := jobs.DeleteEventsBefore(ctx, time.Now().Add(time.Hour), 100000)
	require.NoError(t, err)
	require.Positive(t, n)
	require.Equal(t, want, head(t, jobs))
	_, _, err = jobs.Create(ctx, newJob(t, "mis-alpha", time.Now()))
	require.NoError(t, err)
	require.Equal(t, logged(), head(t, jobs))
}

// TestBulkStatementRingsOnce: a statement inserting 10 000 jobs logs
// 10 000 changes and rings the log's doorbell once; so does a statement
// deleting them.
func TestBulkStatementRingsOnce(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	ctx := context.Background()
	url, _ := pg.Database(t) // a database of its own: no other test rings here
	db, err := postgres.Open(url, pgtest.Pool(2))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	jobs, err := postgres.NewJobs(db, 30*time.Second)
	require.NoError(t, err)

	notes := make(chan string, 100)
	ln := pqListen(t, url, postgres.LogChannel, notes)
	defer ln()
	// rings counts the doorbells up to a sentinel sent after the statement:
	// notifications arrive in commit order.
	rings := func(t *testing.T, statement string) int {
		t.Helper()
		_, err := db.ExecContext(ctx, statement)
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, `SELECT pg_notify($1, 'sentinel')`, postgres.LogChannel)
		require.NoError(t, err)
		n := 0
		for {
			select {
			case extra := <-notes:
				if extra == "sentinel" {
					return n
				}
				require.Empty(t, extra, "a doorbell carries nothing")
				n++
			case <-time.After(30 * time.Second):
				t.Fatal("no sentinel")
			}
		}
	}
	before := head(t, jobs)
	require.Equal(t, 1, rings(t, `INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
		SELECT gen_random_uuid(), 'mis-alpha', 'PENDING', now(), now(), now() FROM generate_series(1, 10000)`))
	changes := changesAfter(t, jobs, before)
	require.Len(t, changes, 10000)
	require.Equal(t, changes[len(changes)-1].Position, head(t, jobs))
	require.Equal(t, 1, rings(t, `UPDATE async_jobs SET eta = eta + interval '1 minute'`))
	require.Equal(t, 1, rings(t, `DELETE FROM async_jobs`))
	require.Len(t, changesAfter(t, jobs, before), 30000)
	require.Equal(t, 0, rings(t, `UPDATE async_jobs SET eta = now()`), "a statement that changed nothing logged nothing")
	require.Equal(t, 1, rings(t, `TRUNCATE async_jobs`))
}

// TestLogListenerRings: the listener rings once it listens, when the log
// moves, and after it reconnects (what moved meanwhile must be read).
func TestLogListenerRings(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	ctx := context.Background()
	url, name := pg.Database(t)
	db, err := postgres.Open(url, pgtest.Pool(2))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	rings := make(chan struct{}, 100)
	ln, err := postgres.ListenLog(url, func() { rings <- struct{}{} }, zapNop())
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close(ctx) })
	ring := func(t *testing.T, what string) {
		t.Helper()
		select {
		case <-rings:
		case <-time.After(30 * time.Second):
			t.Fatalf("no ring %s", what)
		}
	}
	ring(t, "once listening")
	select {
	case <-ln.Ready():
	default:
		t.Fatal("rang before it was ready")
	}
	_, err = db.ExecContext(ctx, `INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
		VALUES (gen_random_uuid(), 'mis-alpha', 'PENDING', now(), now(), now())`)
	require.NoError(t, err)
	ring(t, "for a change")

	var killed bool
	require.NoError(t, db.GetContext(ctx, &killed, `SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND application_name = $2`, name, postgres.ListenerApplicationName))
	require.True(t, killed, "the listener's connection is named")
	ring(t, "after reconnecting")
}

func TestListenLogRefusesMissingArguments(t *testing.T) {
	t.Parallel()
	onMoved, logger := func() {}, zapNop()
	tests := []struct {
		name    string
		url     string
		onMoved func()
		logger  bool
	}{
		{"NoURL", "", onMoved, true},
		{"NoCallback", "postgres://u@127.0.0.1:1/db", nil, true},
		{"NoLogger", "postgres://u@127.0.0.1:1/db", onMoved, false},
		{"NotAPostgresURL", "mysql://u@127.0.0.1:1/db", onMoved, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := logger
			if !tt.logger {
				l = nil
			}
			_, err := postgres.ListenLog(tt.url, tt.onMoved, l)
			require.Error(t, err)
		})
	}
}

// TestDatabaseRefusingConnectionsIsUnavailable: a database that does not
// accept connections (55000: ALLOW_CONNECTIONS false, or one being
// dropped or restored) is a 503 for every read, then serves again.
func TestDatabaseRefusingConnectionsIsUnavailable(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	ctx := context.Background()
	url, name := pg.Database(t)
	admin, err := postgres.Open(pg.URL(""), pgtest.Pool(1))
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	allow := func(on bool) {
		_, err := admin.ExecContext(ctx, fmt.Sprintf("ALTER DATABASE %s ALLOW_CONNECTIONS %t", name, on))
		require.NoError(t, err)
	}
	allow(false)
	t.Cleanup(func() { allow(true) })

	db, err := postgres.Open(url, pgtest.Pool(2))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	jobs, err := postgres.NewJobs(db, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = jobs.Close() })
	_, err = jobs.Get(ctx, domain.NewID())
	require.ErrorIs(t, err, domain.ErrUnavailable)
	_, _, err = jobs.GetAt(ctx, domain.NewID())
	require.ErrorIs(t, err, domain.ErrUnavailable)
	_, _, err = jobs.ChangesAfter(ctx, 0, 10)
	require.ErrorIs(t, err, domain.ErrUnavailable)
	_, err = jobs.LastPosition(ctx)
	require.ErrorIs(t, err, domain.ErrUnavailable)
	_, _, err = jobs.Create(ctx, newJob(t, "mis-alpha", time.Now()))
	require.ErrorIs(t, err, domain.ErrUnavailable)
	require.ErrorIs(t, jobs.Ping(ctx), domain.ErrUnavailable)

	allow(true)
	_, _, err = jobs.GetAt(ctx, domain.NewID())
	require.ErrorIs(t, err, domain.ErrNotFound, "serving again")
}

func zapNop() *zap.Logger { return zap.NewNop() }

// pqListen listens on channel with a plain lib/pq listener and hands each
// notification's payload to notes; it returns once listening.
func pqListen(t *testing.T, url, channel string, notes chan<- string) (stop func()) {
	t.Helper()
	l := pq.NewListener(url, 100*time.Millisecond, time.Second, nil)
	require.NoError(t, l.Listen(channel))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := range l.Notify {
			if n != nil {
				notes <- n.Extra
			}
		}
	}()
	return func() {
		_ = l.Close()
		<-done
	}
}

// TestRecreateWaitingOnADeleteLogsAfterIt: a job created again while the
// statement deleting it is still running takes its version before it
// waits (the BEFORE trigger runs before the insert meets the deleted row
// in the primary key), and the delete takes its position when its
// statement ends: the new version is below the delete's position, while
// the new job's position is above it (positions commit in order). That is
// why nothing compares a version with a position: the read model, the
// feed and the waiters order changes by position
// (TestWaiterComparesChangesWithThePositionItReadAt, app).
func TestRecreateWaitingOnADeleteLogsAfterIt(t *testing.T) {
	t.Parallel()
	jobs, b, j, before := setupLogWithAJob(t)
	ctx := context.Background()
	deleting := b.begin(t)
	var xid string
	require.NoError(t, deleting.GetContext(ctx, &xid, `SELECT txid_current()::text`))
	deleted := make(chan error, 1)
	go func() { // the row is deleted first, the statement ends a second later
		_, err := deleting.ExecContext(ctx, `WITH d AS (DELETE FROM async_jobs WHERE id = $1 RETURNING 1)
			SELECT pg_sleep(1) FROM d`, j.ID.String())
		deleted <- err
	}()
	waiting := func(q string) func() bool {
		return func() bool {
			var n int
			require.NoError(t, b.db.GetContext(ctx, &n, q, xid))
			return n == 1
		}
	}
	require.Eventually(t, waiting(`SELECT count(*) FROM pg_stat_activity
		WHERE backend_xid::text = $1 AND wait_event = 'PgSleep'`), 10*time.Second, 5*time.Millisecond, "the delete statement sleeps")
	recreated := make(chan error, 1)
	go func() {
		_, err := b.db.ExecContext(ctx, `INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
			VALUES ($1, 'mis-alpha', 'PENDING', now(), now(), now())`, j.ID.String())
		recreated <- err
	}()
	require.Eventually(t, waiting(`SELECT count(*) FROM pg_locks
		WHERE NOT granted AND locktype = 'transactionid' AND transactionid::text = $1`),
		10*time.Second, 5*time.Millisecond, "the insert waits for the delete")
	require.NoError(t, <-deleted)
	require.NoError(t, deleting.Commit())
	require.NoError(t, <-recreated)

	changes := changesAfter(t, jobs, before)
	require.Len(t, changes, 2)
	gone, back := changes[0], changes[1]
	require.Equal(t, ports.ChangeDelete, gone.Op)
	require.Equal(t, ports.ChangePut, back.Op)
	require.Equal(t, j.ID, back.ID)
	require.Less(t, gone.Position, back.Position, "the delete first: positions commit in order")
	require.Less(t, back.Job.Version, gone.Position, "the new version was taken before the delete's position")
	now, err := jobs.Get(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, back.Job, now)
}

// TestStatementsChangingNothingTakeNoLock: while a writer holds the log's
// lock (its change not yet committed), statements that change no row —
// an insert that meets an existing id, an update or a delete that
// matches nothing — neither wait for it nor log anything (00012: the lock
// is taken only by a statement that has rows to log).
func TestStatementsChangingNothingTakeNoLock(t *testing.T) {
	t.Parallel()
	jobs, b, j, before := setupLogWithAJob(t)
	ctx := context.Background()
	holding := b.begin(t)
	_, err := holding.ExecContext(ctx, `INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
		VALUES ($1, 'mis-beta', 'PENDING', now(), now(), now())`, domain.NewID().String())
	require.NoError(t, err)

	for name, q := range map[string]string{
		"InsertMeetingAnExistingID": `INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
			VALUES ($1, 'mis-alpha', 'PENDING', now(), now(), now()) ON CONFLICT DO NOTHING`,
		"UpdateMatchingNothing": `UPDATE async_jobs SET eta = eta WHERE id = $1 AND status = 'DONE'`,
		"DeleteMatchingNothing": `DELETE FROM async_jobs WHERE id = $1 AND status = 'DONE'`,
	} {
		t.Run(name, func(t *testing.T) {
			tx := b.begin(t)
			_, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '2s'`)
			require.NoError(t, err)
			res, err := tx.ExecContext(ctx, q, j.ID.String())
			require.NoError(t, err, "no wait for the log's lock")
			n, err := res.RowsAffected()
			require.NoError(t, err)
			require.Zero(t, n)
			require.NoError(t, tx.Commit())
		})
	}
	require.NoError(t, holding.Rollback())
	require.Empty(t, changesAfter(t, jobs, before), "nothing logged")
}

// TestIdChangeLogsTheGoneIdWhileATriggerWritesJobs: a trigger of the
// database's own (here an AFTER ROW trigger on an id change) that writes
// another job while the id-changing statement's triggers run does not
// take that statement's place: the nested statement logs its own change,
// and the id-changing statement still logs the put of the new id and the
// delete of the old one.
func TestIdChangeLogsTheGoneIdWhileATriggerWritesJobs(t *testing.T) {
	t.Parallel()
	for name, nested := range map[string]string{
		"TouchingAnotherJob": `UPDATE async_jobs SET eta = eta + interval '1 second' WHERE id = :other`,
		"MovingAnotherJob":   `UPDATE async_jobs SET id = :elsewhere WHERE id = :other`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			jobs, b, moved, _ := setupLogWithAJob(t)
			ctx := context.Background()
			other := newJob(t, "mis-alpha", time.Now())
			_, _, err := jobs.Create(ctx, other)
			require.NoError(t, err)
			before := head(t, jobs)
			elsewhere := domain.NewID()
			nested := strings.NewReplacer(":other", pq.QuoteLiteral(other.ID.String()),
				":elsewhere", pq.QuoteLiteral(elsewhere.String())).Replace(nested)
			b.exec(t, `CREATE FUNCTION write_other() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN `+nested+`; RETURN NULL; END $$`)
			b.exec(t, `CREATE TRIGGER write_other AFTER UPDATE OF id ON async_jobs
				FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION write_other()`)

			to := domain.NewID()
			b.exec(t, `UPDATE async_jobs SET id = $2 WHERE id = $1`, moved.ID.String(), to.String())

			want := []logged{{ports.ChangePut, to}, {ports.ChangeDelete, moved.ID}, {ports.ChangePut, other.ID}}
			if name == "MovingAnotherJob" {
				want = append(want[:2], logged{ports.ChangePut, elsewhere}, logged{ports.ChangeDelete, other.ID})
			}
			var got []logged
			for _, c := range changesAfter(t, jobs, before) {
				got = append(got, logged{c.Op, c.ID})
			}
			require.ElementsMatch(t, want, got)
		})
	}
}

// logged is a log entry's operation and job.
type logged struct {
	Op ports.ChangeOp
	ID domain.ID
}

// TestWritesWithTriggersOffAreNotLogged: a session with
// session_replication_role = replica (pg_restore --disable-triggers,
// logical replication's apply) writes rows the log never hears of; an
// inserted row still gets a version from the log's sequence, an updated
// one keeps its own (docs/read-model.md says so).
func TestWritesWithTriggersOffAreNotLogged(t *testing.T) {
	t.Parallel()
	jobs, b, j, before := setupLogWithAJob(t)
	ctx := context.Background()
	created, err := jobs.Get(ctx, j.ID)
	require.NoError(t, err)
	tx := b.begin(t)
	_, err = tx.ExecContext(ctx, `SET LOCAL session_replication_role = replica`)
	require.NoError(t, err)
	loaded := domain.NewID()
	var version int64
	require.NoError(t, tx.GetContext(ctx, &version, `INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
		VALUES ($1, 'mis-alpha', 'PENDING', now(), now(), now()) RETURNING version`, loaded.String()))
	require.Greater(t, version, created.Version, "a version from the log's sequence")
	_, err = tx.ExecContext(ctx, `UPDATE async_jobs SET eta = eta + interval '1 hour' WHERE id = $1`, j.ID.String())
	require.NoError(t, err)
	require.NoError(t, tx.Commit())

	require.Empty(t, changesAfter(t, jobs, before), "nothing logged")
	require.Equal(t, before, head(t, jobs))
	updated, err := jobs.Get(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, created.Version, updated.Version, "the updated row keeps its version")
	require.Equal(t, created.ETA.Add(time.Hour), updated.ETA)
}
