// Package postgres is the production JobRepository on PostgreSQL, through
// sqlx and lib/pq, with its schema as embedded goose migrations.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/jobstatus/jobstatus/domain"
)

// Jobs is a ports.JobRepository on PostgreSQL. Its queries run on an
// sqlx.ExtContext: the pool, or a transaction given to WithTx.
type Jobs struct {
	db      sqlx.ExtContext
	pool    *sqlx.DB // nil inside a transaction
	timeout time.Duration

	// The hot-path statements, prepared on first use: lib/pq pays a round
	// trip per unprepared query.
	mu        sync.Mutex // serialises preparing
	getStmt   atomic.Pointer[sqlx.NamedStmt]
	getAtStmt atomic.Pointer[sqlx.NamedStmt]
	// replaced are statements a schema change made stale, closed with s.
	replaced []*sqlx.NamedStmt
}

// NewJobs returns the repository on pool, or an error for a nil pool or a
// timeout that is not positive; timeout bounds every query.
func NewJobs(pool *sqlx.DB, timeout time.Duration) (*Jobs, error) {
	if pool == nil {
		return nil, errors.New("postgres: no database pool")
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("postgres: query timeout must be positive, got %s", timeout)
	}
	return &Jobs{db: pool, pool: pool, timeout: timeout}, nil
}

// WithTx returns the same repository running every query in tx; the caller
// commits or rolls back.
func (s *Jobs) WithTx(tx *sqlx.Tx) *Jobs {
	return &Jobs{db: tx, timeout: s.timeout}
}

// inTx runs fn on a repository inside a transaction: the one s already
// runs in, or a new one committed when fn succeeds.
func (s *Jobs) inTx(ctx context.Context, fn func(*Jobs) error) error {
	if s.pool == nil {
		return fn(s)
	}
	tx, err := s.pool.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(s.WithTx(tx)); err != nil {
		return err
	}
	return tx.Commit()
}

// get runs the named query q with arg and scans one row into dest.
func (s *Jobs) get(ctx context.Context, dest any, q string, arg any) error {
	query, args, err := s.db.BindNamed(q, arg)
	if err != nil {
		return err
	}
	return sqlx.GetContext(ctx, s.db, dest, query, args...)
}

// selectAll runs the named query q with arg and scans every row into dest.
func (s *Jobs) selectAll(ctx context.Context, dest any, q string, arg any) error {
	query, args, err := s.db.BindNamed(q, arg)
	if err != nil {
		return err
	}
	return sqlx.SelectContext(ctx, s.db, dest, query, args...)
}

// exec runs the named statement q with arg and returns the rows it touched.
func (s *Jobs) exec(ctx context.Context, q string, arg any) (int, error) {
	query, args, err := s.db.BindNamed(q, arg)
	if err != nil {
		return 0, err
	}
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// insertColumns are the columns a create writes; the version is the
// trigger's.
const insertColumns = `id, client_id, idempotency_key, status, eta, links, error_code, error_message, created_at, updated_at, finished_at`

// columns are the columns every read returns.
const columns = `id, client_id, idempotency_key, status, eta, links, error_code, error_message, created_at, updated_at, finished_at, version`

// jobRow is the table's shape. Its times are timestamps, so that a row
// holding what no time.Time can (hand-written 'infinity') is one job
// toDomain refuses, not a failed statement.
type jobRow struct {
	ID             string         `db:"id"`
	ClientID       string         `db:"client_id"`
	IdempotencyKey sql.NullString `db:"idempotency_key"`
	Status         string         `db:"status"`
	ETA            timestamp      `db:"eta"`
	Links          []byte         `db:"links"`
	ErrorCode      sql.NullInt64  `db:"error_code"`
	ErrorMessage   sql.NullString `db:"error_message"`
	CreatedAt      timestamp      `db:"created_at"`
	UpdatedAt      timestamp      `db:"updated_at"`
	FinishedAt     timestamp      `db:"finished_at"`
	Version        int64          `db:"version"`
}

// linkRow is one element of the links column, a JSON array.
type linkRow struct {
	Entity string `json:"entity"`
	Href   string `json:"href"`
}

func encodeLinks(links []domain.Link) ([]byte, error) {
	rows := make([]linkRow, len(links))
	for i, l := range links {
		rows[i] = linkRow{Entity: l.Entity, Href: l.Href}
	}
	return json.Marshal(rows)
}

// toDomain reads the row as a job, or says in a
// *domain.UnreadableJobError which column it cannot read: a status
// outside the three, links that are not an array of objects with a
// non-empty entity and href or that break the link rules
// (domain.CheckLink: also an href that is no absolute path, an entity
// that is no token), a time that is no date or lies outside the
// years 1 to 9999 (domain.ValidTime). Only hand-written SQL stores those
// (the schema does not refuse them: checks for them cost every write,
// see docs/operations.md, "Rows written by hand").
func (r jobRow) toDomain() (domain.Job, error) {
	id := domain.ID(strings.ToLower(r.ID))
	unreadable := func(field, reason string) (domain.Job, error) {
		return domain.Job{}, &domain.UnreadableJobError{ID: id, ClientID: r.ClientID, Field: field, Reason: reason}
	}
	j := domain.Job{
		ID:             id,
		ClientID:       r.ClientID,
		IdempotencyKey: r.IdempotencyKey.String,
		Status:         domain.Status(r.Status),
		Version:        r.Version,
	}
	if !j.Status.Valid() {
		return unreadable("status", fmt.Sprintf("%q is none of PENDING, DONE, FAILED", r.Status))
	}
	for _, c := range []struct {
		name string
		col  timestamp
		dst  *time.Time
	}{{"eta", r.ETA, &j.ETA}, {"created_at", r.CreatedAt, &j.CreatedAt}, {"updated_at", r.UpdatedAt, &j.UpdatedAt}} {
		t, bad := c.col.read()
		if bad != "" {
			return unreadable(c.name, bad)
		}
		*c.dst = t
	}
	if !r.FinishedAt.Null {
		t, bad := r.FinishedAt.read()
		if bad != "" {
			return unreadable("finished_at", bad)
		}
		j.FinishedAt = &t
	}
	var links []linkRow
	if err := json.Unmarshal(r.Links, &links); err != nil {
		return unreadable("links", "not an array of objects with entity and href strings")
	}
	for i, l := range links {
		link := domain.Link{Entity: l.Entity, Href: l.Href}
		// The write API's rule, however the link was stored: an entity
		// or href missing or empty, an href that is no absolute path on
		// this host, is never handed to a client (the reason names the
		// rule, not the text).
		var invalid *domain.ValidationError
		if err := domain.CheckLink(link); errors.As(err, &invalid) {
			return unreadable("links", fmt.Sprintf("element %d: %s", i, invalid.Reason))
		}
		j.Links = append(j.Links, link)
	}
	if r.ErrorCode.Valid {
		j.Failure = &domain.Failure{Code: int(r.ErrorCode.Int64), Message: r.ErrorMessage.String}
	}
	return j.Normalize(), nil
}

func fromDomain(j domain.Job) (jobRow, error) {
	j = j.Normalize()
	raw, err := encodeLinks(j.Links)
	if err != nil {
		return jobRow{}, err
	}
	r := jobRow{
		ID: j.ID.String(), ClientID: j.ClientID, Status: string(j.Status), ETA: timestamp{At: j.ETA},
		Links: raw, CreatedAt: timestamp{At: j.CreatedAt}, UpdatedAt: timestamp{At: j.UpdatedAt}, FinishedAt: timestamp{Null: true},
		IdempotencyKey: sql.NullString{String: j.IdempotencyKey, Valid: j.IdempotencyKey != ""},
	}
	if j.Failure != nil {
		r.ErrorCode = sql.NullInt64{Int64: int64(j.Failure.Code), Valid: true}
		r.ErrorMessage = sql.NullString{String: j.Failure.Message, Valid: true}
	}
	if j.FinishedAt != nil {
		r.FinishedAt = timestamp{At: *j.FinishedAt}
	}
	return r, nil
}

// idParams names a job.
type idParams struct {
	ID string `db:"id"`
}

const qGet = `SELECT ` + columns + ` FROM async_jobs WHERE id = :id`

// Get implements ports.JobRepository.
func (s *Jobs) Get(ctx context.Context, id domain.ID) (domain.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var r jobRow
	if err := s.hot(ctx, &s.getStmt, qGet, &r, idParams{ID: id.String()}); err != nil {
		return domain.Job{}, translate(ctx, "get job", err)
	}
	return r.toDomain()
}

// qGetAt reads the log's head (qHead) and the job in one statement, so in
// one snapshot: the head is the newest change committed before it, and
// every change up to the head is visible in it. The head's one row is
// always there; the job's columns are NULL when the job is not.
const qGetAt = `SELECT ` + qHead + ` AS at, j.id IS NOT NULL AS found,
		coalesce(j.id, '00000000-0000-0000-0000-000000000000') AS id, coalesce(j.client_id, '') AS client_id,
		j.idempotency_key, coalesce(j.status, '') AS status, coalesce(j.eta, 'epoch') AS eta,
		coalesce(j.links, '[]') AS links, j.error_code, j.error_message,
		coalesce(j.created_at, 'epoch') AS created_at, coalesce(j.updated_at, 'epoch') AS updated_at,
		j.finished_at, coalesce(j.version, 0) AS version
	FROM async_job_events_head h LEFT JOIN async_jobs j ON j.id = :id`

// atRow is a job, or none, with the log position it was read at.
type atRow struct {
	At    int64 `db:"at"`
	Found bool  `db:"found"`
	jobRow
}

// GetAt implements ports.SnapshotReader, at the cost of Get: one prepared
// statement, one round trip.
func (s *Jobs) GetAt(ctx context.Context, id domain.ID) (domain.Job, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var r atRow
	if err := s.hot(ctx, &s.getAtStmt, qGetAt, &r, idParams{ID: id.String()}); err != nil {
		return domain.Job{}, 0, translate(ctx, "get job", err)
	}
	if !r.Found {
		return domain.Job{}, r.At, translate(ctx, "get job", sql.ErrNoRows)
	}
	j, err := r.toDomain()
	return j, r.At, err
}

// hot runs q, a hot-path query kept prepared in slot, with arg, and scans
// its one row into dest. In a transaction it is not prepared (no
// statement cache there).
func (s *Jobs) hot(ctx context.Context, slot *atomic.Pointer[sqlx.NamedStmt], q string, dest, arg any) error {
	if s.pool == nil {
		return s.get(ctx, dest, q, arg)
	}
	stmt, err := s.prepared(ctx, slot, q)
	if err != nil {
		return err
	}
	err = stmt.GetContext(ctx, dest, arg)
	if stalePlan(err) {
		// DDL changed the table under the statement: prepare it again and
		// retry once; a second failure is a 503.
		if stmt, err = s.reprepare(ctx, slot, q, stmt); err == nil {
			err = stmt.GetContext(ctx, dest, arg)
		}
	}
	return err
}

// prepared returns slot's statement, preparing q once the database first
// answers; database/sql re-prepares it on each new connection itself.
func (s *Jobs) prepared(ctx context.Context, slot *atomic.Pointer[sqlx.NamedStmt], q string) (*sqlx.NamedStmt, error) {
	if stmt := slot.Load(); stmt != nil {
		return stmt, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if stmt := slot.Load(); stmt != nil {
		return stmt, nil
	}
	stmt, err := s.pool.PrepareNamedContext(ctx, q)
	if err != nil {
		return nil, err
	}
	slot.Store(stmt)
	return stmt, nil
}

// reprepare replaces slot's statement stale with q prepared again, unless
// another caller already did. The old statement is not closed: requests
// may still be using it, and it fails harmlessly (retried) on its
// connections.
func (s *Jobs) reprepare(ctx context.Context, slot *atomic.Pointer[sqlx.NamedStmt], q string, stale *sqlx.NamedStmt) (*sqlx.NamedStmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := slot.Load(); cur != nil && cur != stale {
		return cur, nil
	}
	stmt, err := s.pool.PrepareNamedContext(ctx, q)
	if err != nil {
		return nil, err
	}
	slot.Store(stmt)
	s.replaced = append(s.replaced, stale)
	return stmt, nil
}

// stalePlan reports whether err says a prepared statement no longer fits
// the schema: "cached plan must not change result type" (0A000) or a
// statement that no longer exists (26000).
func stalePlan(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && (pqErr.Code == "0A000" || pqErr.Code == "26000")
}

// Close releases the prepared statements; the pool is closed by its owner.
// Closing a statement waits for the server's answer (with the pool's lock
// held), so a server that does not answer has the pool's connections cut
// (see Close).
func (s *Jobs) Close() error {
	if s.pool == nil {
		return s.closeStatements()
	}
	return closeWithin(s.closeStatements, func() { cut(s.pool.DB, false) })
}

func (s *Jobs) closeStatements() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, st := range s.replaced {
		errs = append(errs, st.Close())
	}
	s.replaced = nil
	for _, slot := range []*atomic.Pointer[sqlx.NamedStmt]{&s.getStmt, &s.getAtStmt} {
		if stmt := slot.Swap(nil); stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	return errors.Join(errs...)
}

const (
	// qCreate inserts, unless the client has a PENDING job with the same
	// idempotency key: then nothing is inserted and no row comes back.
	qCreate = `INSERT INTO async_jobs (` + insertColumns + `)
		VALUES (:id, :client_id, :idempotency_key, :status, :eta, :links, :error_code, :error_message,
			:created_at, :updated_at, :finished_at)
		ON CONFLICT (client_id, idempotency_key) WHERE status = 'PENDING' AND idempotency_key IS NOT NULL DO NOTHING
		RETURNING ` + columns
	qPendingByKey = `SELECT ` + columns + ` FROM async_jobs
		WHERE client_id = :client_id AND idempotency_key = :idempotency_key AND status = 'PENDING'`
)

// Create implements ports.JobRepository.
func (s *Jobs) Create(ctx context.Context, job domain.Job) (domain.Job, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	r, err := fromDomain(job)
	if err != nil {
		return domain.Job{}, false, err
	}
	// Twice at most: the pending job we collided with may finish before we
	// read it, and then the insert goes through.
	for range 2 {
		var stored jobRow
		err := s.get(ctx, &stored, qCreate, r)
		if err == nil {
			j, err := stored.toDomain()
			return j, err == nil, err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return domain.Job{}, false, translate(ctx, "create job", err)
		}
		var existing jobRow
		err = s.get(ctx, &existing, qPendingByKey, r)
		if err == nil {
			j, err := existing.toDomain()
			return j, false, err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return domain.Job{}, false, translate(ctx, "create job", err)
		}
	}
	return domain.Job{}, false, fmt.Errorf("create job: %w: idempotent create kept colliding", domain.ErrUnavailable)
}

// finishParams are the values an outcome writes.
type finishParams struct {
	ID           string         `db:"id"`
	Status       string         `db:"status"`
	Links        []byte         `db:"links"`
	ErrorCode    sql.NullInt64  `db:"error_code"`
	ErrorMessage sql.NullString `db:"error_message"`
	At           time.Time      `db:"at"`
}

// qFinish is the whole transition in one statement: only a PENDING row
// changes, so of several racing outcomes exactly one wins.
const qFinish = `UPDATE async_jobs
	SET status = :status, links = :links, error_code = :error_code, error_message = :error_message,
		updated_at = :at, finished_at = :at
	WHERE id = :id AND status = 'PENDING'
	RETURNING ` + columns

// Finish implements ports.JobRepository.
func (s *Jobs) Finish(ctx context.Context, id domain.ID, o domain.Outcome) (domain.Job, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	raw, err := encodeLinks(o.Links)
	if err != nil {
		return domain.Job{}, false, err
	}
	p := finishParams{ID: id.String(), Status: string(o.Status), Links: raw, At: domain.Timestamp(o.At)}
	if o.Failure != nil {
		p.ErrorCode = sql.NullInt64{Int64: int64(o.Failure.Code), Valid: true}
		p.ErrorMessage = sql.NullString{String: o.Failure.Message, Valid: true}
	}
	// Three tries at most: the job a try found finished or missing may be
	// PENDING again by the next statement (re-created or reset by
	// hand-written SQL); the service itself never does that.
	for range 3 {
		var r jobRow
		err = s.get(ctx, &r, qFinish, p)
		if err == nil {
			j, err := r.toDomain()
			return j, err == nil, err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return domain.Job{}, false, translate(ctx, "finish job", err)
		}
		// Nothing changed: the job is missing or already finished. The
		// domain decides whether this outcome repeats the recorded one or
		// conflicts.
		var cur jobRow
		if err := s.get(ctx, &cur, qGet, idParams{ID: id.String()}); err != nil {
			return domain.Job{}, false, translate(ctx, "finish job", err)
		}
		j, err := cur.toDomain()
		if err != nil {
			return domain.Job{}, false, err
		}
		if j.Status.Terminal() {
			_, _, err = j.Finish(o)
			return j, false, err
		}
	}
	// Never report a write that did not happen.
	return domain.Job{}, false, fmt.Errorf("finish job %s: %w: it kept changing under the outcome", id, domain.ErrUnavailable)
}

// Ping checks that the database answers.
func (s *Jobs) Ping(ctx context.Context) error {
	if s.pool == nil {
		return nil // a transaction is a live connection
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.pool.PingContext(ctx); err != nil {
		return translate(ctx, "ping", err)
	}
	return nil
}

// translate turns driver errors into domain errors: a missing row is
// ErrNotFound, a duplicate ErrAlreadyExists, anything that says the
// database could not be reached or answered too late ErrUnavailable.
func translate(ctx context.Context, op string, err error) error {
	var pqErr *pq.Error
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s: %w", op, domain.ErrNotFound)
	case errors.As(err, &pqErr):
		switch {
		case pqErr.Code == "23505":
			return fmt.Errorf("%s: %w", op, domain.ErrAlreadyExists)
		case pqErr.Code == "57014": // query_canceled: our deadline
			return fmt.Errorf("%s: %w: %w", op, domain.ErrUnavailable, err)
		case stalePlan(err): // a schema change under a statement: retry later
			return fmt.Errorf("%s: %w: %w", op, domain.ErrUnavailable, err)
		case unavailableClass(string(pqErr.Code)):
			return fmt.Errorf("%s: %w: %w", op, domain.ErrUnavailable, err)
		}
		return fmt.Errorf("%s: %w", op, err)
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, sql.ErrConnDone):
		return fmt.Errorf("%s: %w: %w", op, domain.ErrUnavailable, err)
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return fmt.Errorf("%s: %w: %w", op, domain.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// unavailableClass lists SQLSTATEs that mean "the database cannot serve
// us now, try again later", a 503 rather than a 500 (PostgreSQL's
// appendix A, "Error Codes"):
//   - whole classes: connection exceptions (08), insufficient resources
//     (53: too many connections, disk full, out of memory), operator
//     intervention (57: shutdown, crash, "cannot connect now" while
//     starting or in recovery, database dropped, idle session timeout,
//     a statement cancelled), system errors (58);
//   - a database refusing connections (55000, ALLOW_CONNECTIONS false),
//     an object in use (55006) or a lock not available (55P03);
//   - a standby after a failover (25006, read-only transaction), sessions
//     ended for idling in a transaction or running past a transaction
//     timeout (25P03, 25P04), and the retryable rollbacks (40001
//     serialization failure, also a standby's recovery conflict; 40P01
//     deadlock), a snapshot too old (72000);
//   - a database that does not exist (3D000), refused credentials (28000,
//     28P01) and a schema not migrated yet (42P01, undefined_table): an
//     operator's to fix, not a fault in the request.
func unavailableClass(code string) bool {
	switch code {
	case "3D000", "28000", "28P01", "42P01",
		"55000", "55006", "55P03",
		"25006", "25P03", "25P04",
		"40001", "40P01", "72000":
		return true
	}
	if len(code) < 2 {
		return false
	}
	switch code[:2] {
	case "08", "53", "57", "58":
		return true
	}
	return false
}
