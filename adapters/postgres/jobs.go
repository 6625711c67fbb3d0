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

// PoolConfig sizes the connection pool.
type PoolConfig struct {
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
}

// Open returns a pool for url. It does not connect: the first query does,
// so the service can start while PostgreSQL is still coming up.
func Open(url string, pool PoolConfig) (*sqlx.DB, error) {
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if pool.MaxOpenConns > 0 {
		db.SetMaxOpenConns(pool.MaxOpenConns)
	}
	if pool.MaxIdleConns > 0 {
		db.SetMaxIdleConns(pool.MaxIdleConns)
	}
	if pool.ConnMaxLifetime > 0 {
		db.SetConnMaxLifetime(pool.ConnMaxLifetime)
	}
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// Jobs is a ports.JobRepository on PostgreSQL.
type Jobs struct {
	db      *sqlx.DB
	timeout time.Duration

	mu      sync.Mutex                // serialises preparing
	getStmt atomic.Pointer[sqlx.Stmt] // prepared on first use: lib/pq pays a round trip per unprepared query
}

const columns = `id, client_id, idempotency_key, status, eta, links, error_code, error_message, created_at, updated_at, finished_at`

const (
	qGet = `SELECT ` + columns + ` FROM async_jobs WHERE id = $1`
	// qCreate inserts, unless the client has a PENDING job with the same
	// idempotency key: then nothing is inserted and no row comes back.
	qCreate = `INSERT INTO async_jobs (` + columns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (client_id, idempotency_key) WHERE status = 'PENDING' AND idempotency_key IS NOT NULL DO NOTHING
		RETURNING ` + columns
	qPendingByKey = `SELECT ` + columns + ` FROM async_jobs
		WHERE client_id = $1 AND idempotency_key = $2 AND status = 'PENDING'`
	// qFinish is the whole transition in one statement: only a PENDING row
	// changes, so of several racing outcomes exactly one wins.
	qFinish = `UPDATE async_jobs
		SET status = $2, links = $3, error_code = $4, error_message = $5, updated_at = $6, finished_at = $6
		WHERE id = $1 AND status = 'PENDING'
		RETURNING ` + columns
)

// NewJobs returns the repository; timeout bounds every query.
func NewJobs(db *sqlx.DB, timeout time.Duration) *Jobs {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	return &Jobs{db: db, timeout: timeout}
}

// row is the table's shape.
type row struct {
	ID             string         `db:"id"`
	ClientID       string         `db:"client_id"`
	IdempotencyKey sql.NullString `db:"idempotency_key"`
	Status         string         `db:"status"`
	ETA            time.Time      `db:"eta"`
	Links          []byte         `db:"links"`
	ErrorCode      sql.NullInt64  `db:"error_code"`
	ErrorMessage   sql.NullString `db:"error_message"`
	CreatedAt      time.Time      `db:"created_at"`
	UpdatedAt      time.Time      `db:"updated_at"`
	FinishedAt     sql.NullTime   `db:"finished_at"`
}

func (r row) toDomain() (domain.Job, error) {
	j := domain.Job{
		ID:             domain.ID(strings.ToLower(r.ID)),
		ClientID:       r.ClientID,
		IdempotencyKey: r.IdempotencyKey.String,
		Status:         domain.Status(r.Status),
		ETA:            r.ETA.UTC(),
		CreatedAt:      r.CreatedAt.UTC(),
		UpdatedAt:      r.UpdatedAt.UTC(),
	}
	if !j.Status.Valid() {
		return domain.Job{}, fmt.Errorf("job %s: unknown status %q", r.ID, r.Status)
	}
	if err := json.Unmarshal(r.Links, &j.Links); err != nil {
		return domain.Job{}, fmt.Errorf("job %s: links: %w", r.ID, err)
	}
	if j.Links == nil {
		j.Links = []domain.Link{}
	}
	if r.ErrorCode.Valid {
		j.Failure = &domain.Failure{Code: int(r.ErrorCode.Int64), Message: r.ErrorMessage.String}
	}
	if r.FinishedAt.Valid {
		t := r.FinishedAt.Time.UTC()
		j.FinishedAt = &t
	}
	return j, nil
}

func fromDomain(j domain.Job) (row, error) {
	links := j.Links
	if links == nil {
		links = []domain.Link{}
	}
	raw, err := json.Marshal(links)
	if err != nil {
		return row{}, err
	}
	r := row{
		ID: j.ID.String(), ClientID: j.ClientID, Status: string(j.Status), ETA: j.ETA,
		Links: raw, CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt,
		IdempotencyKey: sql.NullString{String: j.IdempotencyKey, Valid: j.IdempotencyKey != ""},
	}
	if j.Failure != nil {
		r.ErrorCode = sql.NullInt64{Int64: int64(j.Failure.Code), Valid: true}
		r.ErrorMessage = sql.NullString{String: j.Failure.Message, Valid: true}
	}
	if j.FinishedAt != nil {
		r.FinishedAt = sql.NullTime{Time: *j.FinishedAt, Valid: true}
	}
	return r, nil
}

// Get implements ports.JobRepository.
func (s *Jobs) Get(ctx context.Context, id domain.ID) (domain.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	stmt, err := s.prepared(ctx)
	if err != nil {
		return domain.Job{}, translate(ctx, "get job", err)
	}
	var r row
	if err := stmt.GetContext(ctx, &r, id.String()); err != nil {
		return domain.Job{}, translate(ctx, "get job", err)
	}
	return r.toDomain()
}

// prepared returns the hot-path statement, preparing it once the database
// first answers; database/sql re-prepares it on each new connection itself.
func (s *Jobs) prepared(ctx context.Context) (*sqlx.Stmt, error) {
	if stmt := s.getStmt.Load(); stmt != nil {
		return stmt, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if stmt := s.getStmt.Load(); stmt != nil {
		return stmt, nil
	}
	stmt, err := s.db.PreparexContext(ctx, qGet)
	if err != nil {
		return nil, err
	}
	s.getStmt.Store(stmt)
	return stmt, nil
}

// Close releases the prepared statement; the pool is closed by its owner.
func (s *Jobs) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	stmt := s.getStmt.Swap(nil)
	if stmt == nil {
		return nil
	}
	return stmt.Close()
}

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
		var stored row
		err := s.db.GetContext(ctx, &stored, qCreate, r.ID, r.ClientID, r.IdempotencyKey, r.Status, r.ETA, r.Links,
			r.ErrorCode, r.ErrorMessage, r.CreatedAt, r.UpdatedAt, r.FinishedAt)
		if err == nil {
			j, err := stored.toDomain()
			return j, err == nil, err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return domain.Job{}, false, translate(ctx, "create job", err)
		}
		var existing row
		err = s.db.GetContext(ctx, &existing, qPendingByKey, r.ClientID, r.IdempotencyKey)
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

// Finish implements ports.JobRepository.
func (s *Jobs) Finish(ctx context.Context, id domain.ID, o domain.Outcome) (domain.Job, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	links := o.Links
	if links == nil {
		links = []domain.Link{}
	}
	raw, err := json.Marshal(links)
	if err != nil {
		return domain.Job{}, false, err
	}
	var code sql.NullInt64
	var msg sql.NullString
	if o.Failure != nil {
		code = sql.NullInt64{Int64: int64(o.Failure.Code), Valid: true}
		msg = sql.NullString{String: o.Failure.Message, Valid: true}
	}
	var r row
	err = s.db.GetContext(ctx, &r, qFinish, id.String(), string(o.Status), raw, code, msg, o.At)
	if err == nil {
		j, err := r.toDomain()
		return j, err == nil, err
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return domain.Job{}, false, translate(ctx, "finish job", err)
	}
	// Nothing changed: the job is missing or already finished. The domain
	// decides whether this outcome repeats the recorded one or conflicts.
	var cur row
	if err := s.db.GetContext(ctx, &cur, qGet, id.String()); err != nil {
		return domain.Job{}, false, translate(ctx, "finish job", err)
	}
	j, err := cur.toDomain()
	if err != nil {
		return domain.Job{}, false, err
	}
	if !j.Status.Terminal() {
		// Created between the two statements; cannot happen with UUIDs
		// created before finishing, but never report a write that did not happen.
		return j, false, fmt.Errorf("finish job %s: %w", id, domain.ErrUnavailable)
	}
	_, _, err = j.Finish(o)
	return j, false, err
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

// unavailableClass lists SQLSTATE classes that mean "try again later":
// connection exceptions (08), insufficient resources (53), operator
// intervention such as a shutdown (57), system errors (58).
func unavailableClass(code string) bool {
	if len(code) < 2 {
		return false
	}
	switch code[:2] {
	case "08", "53", "57", "58":
		return true
	}
	return false
}

const qRecentDurations = `SELECT EXTRACT(EPOCH FROM finished_at - created_at)::float8
	FROM async_jobs WHERE finished_at IS NOT NULL AND status = 'DONE'
	ORDER BY finished_at DESC LIMIT $1`

// RecentDurations implements ports.DurationSource, newest first.
func (s *Jobs) RecentDurations(ctx context.Context, limit int) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var secs []float64
	if err := s.db.SelectContext(ctx, &secs, qRecentDurations, limit); err != nil {
		return nil, translate(ctx, "recent durations", err)
	}
	out := make([]time.Duration, len(secs))
	for i, v := range secs {
		out[i] = time.Duration(v * float64(time.Second))
	}
	return out, nil
}

// Ping checks that the database answers.
func (s *Jobs) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.db.PingContext(ctx); err != nil {
		return translate(ctx, "ping", err)
	}
	return nil
}
