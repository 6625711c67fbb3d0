package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// replayStatements are the statements the replay test's writers run, each
// on their own jobs (:a and :b two of them, or new ids when there are
// fewer; :c and :d new ids; :owner the writer's client): every kind of change the log records, id
// changes alone, with a status change, next to a row that keeps its id,
// through INSERT … ON CONFLICT DO UPDATE, and a statement changing nothing.
var replayStatements = []string{
	`INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at) VALUES (:c, :owner, 'PENDING', now(), now(), now())`,
	`UPDATE async_jobs SET eta = eta + interval '1 second' WHERE id = :a`,
	`UPDATE async_jobs SET status = 'FAILED', finished_at = now(), error_code = 1, error_message = 'x'
		WHERE id = :a AND status = 'PENDING'`,
	`DELETE FROM async_jobs WHERE id IN (:a, :b)`,
	`UPDATE async_jobs SET id = :c WHERE id = :a`,
	`UPDATE async_jobs SET id = :c, status = 'FAILED', finished_at = now(), error_code = 2, error_message = 'y'
		WHERE id = :a AND status = 'PENDING'`,
	`UPDATE async_jobs SET id = CASE WHEN id = :a THEN :c::uuid ELSE id END, eta = eta + interval '1 second'
		WHERE id IN (:a, :b)`,
	`UPDATE async_jobs SET id = CASE WHEN id = :a THEN :c::uuid ELSE :d::uuid END WHERE id IN (:a, :b)`,
	`INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at) VALUES (:a, :owner, 'PENDING', now(), now(), now()),
		(:c, :owner, 'PENDING', now(), now(), now())
		ON CONFLICT (id) DO UPDATE SET eta = async_jobs.eta + interval '1 second'`,
	`INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at) VALUES (:a, :owner, 'PENDING', now(), now(), now())
		ON CONFLICT (id) DO UPDATE SET id = :d`,
	// A chain: :b to a new id and :a to :b (refused as a duplicate key
	// when :a's row comes first, then rolled back to the savepoint).
	`UPDATE async_jobs SET id = CASE WHEN id = :b THEN :c::uuid ELSE :b::uuid END,
		status = CASE WHEN id = :a AND status = 'PENDING' THEN 'DONE' ELSE status END,
		finished_at = CASE WHEN id = :a AND status = 'PENDING' THEN now() ELSE finished_at END,
		links = CASE WHEN id = :a AND status = 'PENDING' THEN '[{"entity":"composition","href":"/c"}]' ELSE links END
		WHERE id IN (:a, :b)`,
	`UPDATE async_jobs SET eta = eta WHERE id = :d`,
	`UPDATE async_jobs SET id = id, eta = eta + interval '1 second' WHERE id = :a`,
}

// TestLogReplaysToTheTableUnderConcurrentWriters: writers on many
// connections run transactions of every kind of statement, each in a
// savepoint that is released or rolled back to, some transactions rolled
// back whole, while a reader follows the log. The reader sees every
// committed position once, in order; replaying the log (puts, deletes)
// gives the table exactly, each row at the version it has; and no version
// is logged twice.
func TestLogReplaysToTheTableUnderConcurrentWriters(t *testing.T) {
	t.Parallel()
	jobs, b := setupLog(t)
	ctx := context.Background()
	start := head(t, jobs)
	const writers, txPerWriter = 5, 30

	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := replayWriter(ctx, b.db, fmt.Sprintf("w%d", w), rand.New(rand.NewPCG(uint64(w), 11)), txPerWriter); err != nil {
				t.Error(err)
			}
		}()
	}
	writing := make(chan struct{})
	go func() { wg.Wait(); close(writing) }()

	seen := follow(writing, start, changePositions(t, jobs, 20))
	all := changesAfter(t, jobs, start)
	var want []int64
	type state struct {
		version int64
		status  domain.Status
	}
	replayed := map[domain.ID]state{}
	versions := map[int64]int64{}
	for _, c := range all {
		want = append(want, c.Position)
		switch c.Op {
		case ports.ChangePut:
			require.Less(t, c.Job.Version, c.Position, "a put's version is taken before its position")
			if p, dup := versions[c.Job.Version]; dup {
				t.Errorf("version %d logged at %d and %d", c.Job.Version, p, c.Position)
			}
			versions[c.Job.Version] = c.Position
			replayed[c.ID] = state{c.Job.Version, c.Job.Status}
		case ports.ChangeDelete:
			_, ok := replayed[c.ID]
			require.True(t, ok, "a delete at %d of %s, which the log does not hold", c.Position, c.ID)
			delete(replayed, c.ID)
		default:
			t.Fatalf("unexpected change %+v", c)
		}
	}
	require.Equal(t, want, seen, "the reader saw every committed position, once, in order")

	var rows []struct {
		ID      string `db:"id"`
		Version int64  `db:"version"`
		Status  string `db:"status"`
	}
	require.NoError(t, b.db.SelectContext(ctx, &rows, `SELECT id, version, status FROM async_jobs`))
	table := map[domain.ID]state{}
	for _, r := range rows {
		id, err := domain.ParseID(r.ID)
		require.NoError(t, err)
		table[id] = state{r.Version, domain.Status(r.Status)}
	}
	require.NotEmpty(t, table)
	require.Equal(t, table, replayed, "the log replays to the table")
	t.Logf("%d entries, %d rows", len(all), len(table))
}

// replayWriter runs n transactions of client's statements on db.
func replayWriter(ctx context.Context, db *sqlx.DB, client string, rnd *rand.Rand, n int) error {
	for range n {
		tx, err := db.BeginTxx(ctx, nil)
		if err != nil {
			return err
		}
		if err := replayTransaction(ctx, tx, client, rnd); err != nil {
			_ = tx.Rollback()
			return err
		}
		if rnd.IntN(6) == 0 {
			err = tx.Rollback()
		} else {
			err = tx.Commit()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// replayTransaction runs 1 to 5 statements in tx, each in a savepoint
// released or (one in four, and after a duplicate key) rolled back to.
func replayTransaction(ctx context.Context, tx *sqlx.Tx, client string, rnd *rand.Rand) error {
	for range 1 + rnd.IntN(5) {
		var ids []string
		if err := tx.SelectContext(ctx, &ids, `SELECT id FROM async_jobs WHERE client_id = $1 ORDER BY random() LIMIT 2`, client); err != nil {
			return err
		}
		for len(ids) < 2 {
			ids = append(ids, domain.NewID().String())
		}
		q := replayStatements[rnd.IntN(len(replayStatements))]
		if _, err := tx.ExecContext(ctx, `SAVEPOINT s`); err != nil {
			return err
		}
		q = strings.NewReplacer(":a", pq.QuoteLiteral(ids[0]), ":b", pq.QuoteLiteral(ids[1]), ":c", pq.QuoteLiteral(domain.NewID().String()),
			":d", pq.QuoteLiteral(domain.NewID().String()), ":owner", pq.QuoteLiteral(client)).Replace(q)
		_, err := tx.ExecContext(ctx, q)
		var pqErr *pq.Error
		if err != nil && !(errors.As(err, &pqErr) && pqErr.Code == "23505") {
			return fmt.Errorf("%s: %w", q, err)
		}
		end := `RELEASE SAVEPOINT s`
		if err != nil || rnd.IntN(4) == 0 {
			end = `ROLLBACK TO SAVEPOINT s`
		}
		if _, err := tx.ExecContext(ctx, end); err != nil {
			return err
		}
	}
	return nil
}
