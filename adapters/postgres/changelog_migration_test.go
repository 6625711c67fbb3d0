package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/pgtest"
)

// TestChangeLogMigration: migration 00009 moves a database written under
// 00008 forward (versions kept, new positions above every version and
// position given so far, the old events still replayed), and back again
// (the old triggers version, notify and record status changes, and only
// the stream's events stay in the log).
func TestChangeLogMigration(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	ctx := context.Background()
	db := openBare(t, 2)
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := db.ExecContext(ctx, q, args...)
		require.NoError(t, err)
	}
	insert := func(id domain.ID, client string) {
		t.Helper()
		exec(`INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
			VALUES ($1, $2, 'PENDING', now(), now(), now())`, id.String(), client)
	}
	type versioned struct {
		ID      string `db:"id"`
		Version int64  `db:"version"`
	}
	versions := func() []versioned {
		t.Helper()
		var v []versioned
		require.NoError(t, db.SelectContext(ctx, &v, `SELECT id, version FROM async_jobs ORDER BY id`))
		return v
	}
	positions := func() []int64 {
		t.Helper()
		var p []int64
		require.NoError(t, db.SelectContext(ctx, &p, `SELECT position FROM async_job_events ORDER BY position`))
		return p
	}

	// Under 00008: three jobs created, one finished, one's eta refreshed,
	// one deleted; 00004's backfill-era versions and 00005's positions
	// come from two sequences. The version sequence is pushed far ahead,
	// as a long-lived database's is.
	require.NoError(t, postgres.MigrateTo(ctx, db, 8))
	exec(`SELECT setval('async_jobs_version_seq', 5000)`)
	a, b, c := domain.NewID(), domain.NewID(), domain.NewID()
	insert(a, "mis-alpha")
	insert(b, "mis-alpha")
	insert(c, "mis-beta")
	exec(`UPDATE async_jobs SET status = 'DONE', links = '[{"entity":"composition","href":"/c"}]', finished_at = now()
		WHERE id = $1`, a.String())
	exec(`UPDATE async_jobs SET eta = eta + interval '1 minute' WHERE id = $1`, b.String())
	exec(`DELETE FROM async_jobs WHERE id = $1`, c.String())
	oldVersions, oldPositions := versions(), positions()
	require.Len(t, oldPositions, 4, "3 creations and a status change")
	var top int64 // the delete took a version of its own, above every row's
	require.NoError(t, db.GetContext(ctx, &top, `SELECT last_value FROM async_jobs_version_seq`))
	require.Greater(t, top, oldVersions[0].Version)

	filenodes := func() (n [2]int64) {
		t.Helper()
		require.NoError(t, db.QueryRowContext(ctx, `SELECT pg_relation_filenode('async_jobs'),
			pg_relation_filenode('async_job_events')`).Scan(&n[0], &n[1]))
		return n
	}
	before := filenodes()
	_, err := postgres.Migrate(ctx, db)
	require.NoError(t, err)
	require.Equal(t, before, filenodes(), "catalog changes only: neither table is rewritten")
	jobs, err := postgres.NewJobs(db, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = jobs.Close() })
	require.Equal(t, oldVersions, versions(), "versions kept")
	require.Equal(t, oldPositions, positions(), "the log kept")
	require.Equal(t, top, head(t, jobs), "the head: the greatest version or position given so far")

	events, err := jobs.EventsAfter(ctx, "", 0, 10)
	require.NoError(t, err)
	var replayed []string
	for _, e := range events {
		replayed = append(replayed, e.ClientID+" "+string(e.Status))
	}
	require.Equal(t, []string{"mis-alpha PENDING", "mis-alpha PENDING", "mis-beta PENDING", "mis-alpha DONE"}, replayed,
		"the old events, the deleted job's included")
	changes := changesAfter(t, jobs, 0)
	require.Len(t, changes, 4, "old entries are puts")
	for _, ch := range changes {
		require.Equal(t, ports.ChangePut, ch.Op)
		require.True(t, ch.Event)
	}

	d := newJob(t, "mis-alpha", time.Now())
	created, _, err := jobs.Create(ctx, d)
	require.NoError(t, err)
	require.Greater(t, created.Version, top, "new versions above every old version and position")
	createdAt := head(t, jobs) // the create's position
	require.Greater(t, createdAt, created.Version)
	exec(`UPDATE async_jobs SET eta = eta + interval '1 minute' WHERE id = $1`, a.String()) // not an event
	exec(`DELETE FROM async_jobs WHERE id = $1`, b.String())                                // not an event

	// Down again: the log keeps the stream's events only, and the old
	// triggers take over, with versions above every position.
	require.NoError(t, postgres.MigrateDownTo(ctx, db, 8))
	require.Equal(t, append(oldPositions, createdAt), positions(), "the events stay, the rest goes")
	var columns int
	require.NoError(t, db.GetContext(ctx, &columns, `SELECT count(*) FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'async_job_events' AND column_name IN ('op', 'event')`))
	require.Zero(t, columns)
	e := domain.NewID()
	insert(e, "mis-alpha")
	var v int64
	require.NoError(t, db.GetContext(ctx, &v, `SELECT version FROM async_jobs WHERE id = $1`, e.String()))
	require.Greater(t, v, created.Version, "versions keep growing")
	require.Len(t, positions(), 6, "its creation recorded by 00008's trigger")

	_, err = postgres.Migrate(ctx, db)
	require.NoError(t, err, "and up once more")
	require.GreaterOrEqual(t, head(t, jobs), v)
}

// TestChangeLogMigrationGivesWayToALongTransaction: 00009 needs both
// tables' locks for a moment; behind a long transaction it would queue
// every read behind it, so it gives up (after its lock timeout) and
// changes nothing, and goes through once the transaction ends. (A
// database of its own: the migrations' lock, held meanwhile, is the
// database's.)
func TestChangeLogMigrationGivesWayToALongTransaction(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	ctx := context.Background()
	url, _ := pg.BareDatabase(t)
	db, err := postgres.Open(url, pgtest.Pool(2))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, postgres.MigrateTo(ctx, db, 8))

	long, err := db.BeginTxx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = long.Rollback() }()
	var n int
	require.NoError(t, long.GetContext(ctx, &n, `SELECT count(*) FROM async_jobs`))
	_, err = postgres.Migrate(ctx, db)
	require.ErrorContains(t, err, "55P03", "lock_not_available")
	var heads int
	require.NoError(t, db.GetContext(ctx, &heads, `SELECT count(*) FROM information_schema.tables
		WHERE table_name = 'async_job_events_head'`))
	require.Zero(t, heads, "nothing changed")

	require.NoError(t, long.Rollback())
	_, err = postgres.Migrate(ctx, db)
	require.NoError(t, err)
}

// TestLockAtStatementEndMigratesDownAndUpWithData: a database written
// under 00011, then 00012, then 00011 again after migrating down, then
// 00012 again. Each change is logged once at a position above every one
// before it; under 00011 a put's position is the job's version, under
// 00012 the version is the row's and below the position; the feed reads
// every entry, each put with the version the job had; and the head is the
// last position throughout, also for a session that cached a head under
// the first 00012 and writes again under the second.
func TestLockAtStatementEndMigratesDownAndUpWithData(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	ctx := context.Background()
	db := openBare(t, 3)
	jobs, err := postgres.NewJobs(db, 10*time.Second)
	require.NoError(t, err)
	writer, err := db.Connx(ctx) // one session throughout: it caches the head it saw
	require.NoError(t, err)
	t.Cleanup(func() { _ = writer.Close() })
	write := func(q string, args ...any) {
		t.Helper()
		_, err := writer.ExecContext(ctx, q, args...)
		require.NoError(t, err)
	}
	create := func() domain.ID {
		t.Helper()
		id := domain.NewID()
		write(`INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
			VALUES ($1, 'mis-alpha', 'PENDING', now(), now(), now())`, id.String())
		return id
	}
	version := func(id domain.ID) int64 {
		t.Helper()
		var v int64
		require.NoError(t, db.GetContext(ctx, &v, `SELECT version FROM async_jobs WHERE id = $1`, id.String()))
		return v
	}
	// lastPut is the position of id's last put.
	lastPut := func(id domain.ID) int64 {
		t.Helper()
		var p int64
		require.NoError(t, db.GetContext(ctx, &p, `SELECT max(position) FROM async_job_events WHERE job_id = $1 AND op = 'P'`, id.String()))
		return p
	}
	logged := func() int64 {
		t.Helper()
		var p int64
		require.NoError(t, db.GetContext(ctx, &p, `SELECT coalesce(max(position), 0) FROM async_job_events`))
		return p
	}
	// busy writes enough changes for the head row to move.
	busy := func() {
		t.Helper()
		for range 150 {
			a := create()
			write(`UPDATE async_jobs SET eta = eta + interval '1 second' WHERE id = $1`, a.String())
			require.Equal(t, logged(), head(t, jobs))
		}
	}

	require.NoError(t, postgres.MigrateTo(ctx, db, 11))
	a := create()
	require.Equal(t, version(a), lastPut(a), "under 00011 the position is the version")
	busy()

	require.NoError(t, postgres.MigrateTo(ctx, db, 12))
	b := create()
	write(`UPDATE async_jobs SET eta = eta + interval '1 second' WHERE id = $1`, a.String())
	require.Less(t, version(b), lastPut(b), "under 00012 the version is below the position")
	require.Less(t, version(a), lastPut(a))
	busy()

	require.NoError(t, postgres.MigrateDownTo(ctx, db, 11))
	c := create()
	write(`UPDATE async_jobs SET id = $2 WHERE id = $1`, b.String(), domain.NewID().String())
	require.Equal(t, version(c), lastPut(c), "under 00011 again the position is the version")
	require.Equal(t, logged(), head(t, jobs))
	busy()

	require.NoError(t, postgres.MigrateTo(ctx, db, 12))
	d := create()
	write(`UPDATE async_jobs SET status = 'FAILED', finished_at = now(), error_code = 1, error_message = 'x' WHERE id = $1`, a.String())
	require.Less(t, version(d), lastPut(d))
	require.Equal(t, logged(), head(t, jobs))
	busy()

	changes := changesAfter(t, jobs, 0)
	require.NotEmpty(t, changes)
	last := int64(0)
	for _, ch := range changes {
		require.Greater(t, ch.Position, last, "positions grow through every migration")
		last = ch.Position
	}
	require.Equal(t, logged(), last, "the feed reads every entry")
	// Every job, those last changed under the first 00012 included: its
	// entries keep their versions through the Down (the column stays).
	var ids []domain.ID
	require.NoError(t, db.SelectContext(ctx, &ids, `SELECT id FROM async_jobs`))
	require.Contains(t, ids, a)
	for _, id := range ids {
		got, at, err := jobs.GetAt(ctx, id)
		require.NoError(t, err)
		require.Equal(t, logged(), at)
		var put ports.Change
		for _, ch := range changes {
			if ch.ID == id && ch.Op == ports.ChangePut {
				put = ch
			}
		}
		require.Equal(t, got, put.Job, "the feed's last put of %s is the job as stored, version included", id)
	}
}

// openBare opens a pool of size connections on a schema of its own with
// no migration applied, closed at the test's end.
func openBare(t *testing.T, size int) *sqlx.DB {
	t.Helper()
	db, err := postgres.Open(pg.URL(pg.BareSchema(t)), pgtest.Pool(size))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}
