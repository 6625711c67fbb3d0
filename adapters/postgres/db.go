package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"time"

	"github.com/XSAM/otelsql"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// PoolConfig sizes the connection pool. Every field is required; bootstrap's
// configuration holds the defaults.
type PoolConfig struct {
	MaxOpenConns    int           // positive
	MaxIdleConns    int           // 0..MaxOpenConns
	ConnMaxLifetime time.Duration // positive
	ConnMaxIdleTime time.Duration // positive
	// Tracer, when set and not a no-op, gives every query of a traced
	// request its own span (otelsql wraps the driver); nil: no wrapping.
	Tracer trace.TracerProvider
}

// Validate refuses zero, negative and contradictory sizes: more idle than
// open connections cannot be kept, and a pool warmed to that size waits for
// ever.
func (c PoolConfig) Validate() error {
	var errs []error
	if c.MaxOpenConns <= 0 {
		errs = append(errs, fmt.Errorf("max open connections must be positive, got %d", c.MaxOpenConns))
	}
	if c.MaxIdleConns < 0 || c.MaxIdleConns > c.MaxOpenConns {
		errs = append(errs, fmt.Errorf("max idle connections must be between 0 and max open connections (%d), got %d",
			c.MaxOpenConns, c.MaxIdleConns))
	}
	if c.ConnMaxLifetime <= 0 {
		errs = append(errs, fmt.Errorf("connection max lifetime must be positive, got %s", c.ConnMaxLifetime))
	}
	if c.ConnMaxIdleTime <= 0 {
		errs = append(errs, fmt.Errorf("connection max idle time must be positive, got %s", c.ConnMaxIdleTime))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("postgres pool: %w", err)
	}
	return nil
}

// Open returns a pool for url, or an error for an invalid pool or URL
// (CheckURL's, which never echoes it). It does not
// connect: the first query does, so the service can start while PostgreSQL
// is still coming up.
func Open(url string, pool PoolConfig) (*sqlx.DB, error) {
	if err := pool.Validate(); err != nil {
		return nil, err
	}
	if err := CheckURL(url); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db, err := open(url, pool.Tracer)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(pool.MaxOpenConns)
	db.SetMaxIdleConns(pool.MaxIdleConns)
	db.SetConnMaxLifetime(pool.ConnMaxLifetime)
	db.SetConnMaxIdleTime(pool.ConnMaxIdleTime)
	return db, nil
}

// open returns the pool on its own connector (conn.go), its driver wrapped
// by otelsql when tracing is on. Queries outside a traced request (the
// sweeper, the eta refresher) make no spans: a span is only ever a child.
func open(url string, tp trace.TracerProvider) (*sqlx.DB, error) {
	c, err := newConnector(url)
	if err != nil {
		return nil, err
	}
	var db *sql.DB
	if _, off := tp.(noop.TracerProvider); tp == nil || off {
		db = sql.OpenDB(c)
	} else {
		db = otelsql.OpenDB(c,
			otelsql.WithTracerProvider(tp),
			otelsql.WithAttributes(attribute.String("db.system.name", "postgresql")),
			otelsql.WithSpanOptions(otelsql.SpanOptions{
				OmitConnResetSession: true,
				OmitRows:             true,
				OmitConnectorConnect: true,
				SpanFilter: func(ctx context.Context, _ otelsql.Method, _ string, _ []driver.NamedValue) bool {
					return trace.SpanContextFromContext(ctx).IsValid()
				},
			}))
	}
	c.db = db
	pools.Store(db, c)
	return sqlx.NewDb(db, "postgres"), nil
}

// NamedURL names the connections opened with the URL in pg_stat_activity
// by their role: "jobstatus-<role>", or the URL's own application_name
// followed by "-<role>"; with no role, "jobstatus" or the URL's own name.
// The error never echoes the URL: it may hold a password.
func NamedURL(raw, role string) (string, error) {
	u, err := neturl.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("the database URL must be a postgres:// URL")
	}
	q := u.Query()
	name := "jobstatus"
	if v := q.Get("application_name"); v != "" {
		name = v
	}
	if role != "" {
		name += "-" + role
	}
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// CheckURL says whether lib/pq accepts url's parameters (sslmode,
// connect_timeout, target_session_attrs, …) as it would at every connect,
// so a wrong one is refused at start instead of failing each connection.
// The error never echoes the URL, which may carry a password: it names the
// parameter lib/pq refused, or says the text is not a URL.
func CheckURL(url string) error {
	_, err := pq.NewConfig(url)
	if err == nil {
		return nil
	}
	// lib/pq's "wrong value for" errors name a parameter and its value,
	// never the password; the others quote the whole text.
	if msg := err.Error(); strings.HasPrefix(msg, "pq: wrong value for ") {
		return errors.New(strings.TrimPrefix(msg, "pq: "))
	}
	return errors.New("not a valid connection URL")
}
