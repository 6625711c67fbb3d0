package bootstrap

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/ports"
)

// connMaxIdleTime closes connections idle this long, so a quiet service
// does not pin PostgreSQL backends.
const connMaxIdleTime = 5 * time.Minute

// PostgresModule binds the PostgreSQL store to every port it implements,
// owns the pool's lifetime, and contributes the store's readiness check
// and the pool's statistics.
var PostgresModule = fx.Module("postgres",
	fx.Provide(
		newDB,
		fx.Annotate(newPostgresJobs, storePorts...),
		newFeedLog,
		readiness(func(j *postgres.Jobs) httpapi.Check {
			return httpapi.Check{Name: "store", Fn: func(ctx context.Context) (string, error) {
				if err := j.Ping(ctx); err != nil {
					return "", errors.New("database unreachable")
				}
				return "database answers", nil
			}}
		}),
		readiness(func(db *sqlx.DB) httpapi.Check {
			return httpapi.Check{Name: "schema", Fn: func(ctx context.Context) (string, error) { return schemaState(ctx, db) }}
		}),
		collector(func(db *sqlx.DB) prometheus.Collector { return collectors.NewDBStatsCollector(db.DB, metricsNamespace) }),
	),
)

// schemaState is the schema readiness check: not ready until every
// migration this binary embeds is applied, saying which version it found
// and which it needs.
func schemaState(ctx context.Context, db *sqlx.DB) (string, error) {
	s, err := postgres.ReadSchema(ctx, db)
	if err != nil {
		return "", errors.New("schema version unreadable")
	}
	if err := s.Ready(); err != nil {
		return "", err
	}
	return s.String(), nil
}

// dbPool sizes the graph's pool: serve's, filled at start, or a one-shot
// command's, the smallest its work needs (toolPool).
type dbPool struct {
	postgres.PoolConfig
	Warm bool // open the idle connections at start
	// Probe logs at start whether the database and its schema are there
	// (serve). The one-shot commands still connect at start, outside the
	// query timeout of their first statement, but log nothing: their own
	// error is the one line a person reads, not a log line before it.
	Probe bool
}

// servePool is the configured pool, filled at start.
func servePool(cfg Config) dbPool {
	return dbPool{Warm: true, Probe: true, PoolConfig: postgres.PoolConfig{
		MaxOpenConns:    cfg.Database.MaxOpenConns,
		MaxIdleConns:    cfg.Database.MaxIdleConns,
		ConnMaxLifetime: cfg.Database.ConnMaxLifetime,
		ConnMaxIdleTime: connMaxIdleTime,
	}}
}

// toolPool is the pool of the one-shot commands (jobs, report, migrate):
// they run one statement at a time, so two connections at most (a second
// for goose's advisory lock, or a query beside an open cursor), opened on
// demand. Thirty commands at once then cost PostgreSQL 60 backends at
// most, not 30 full serving pools.
func toolPool(cfg Config) dbPool {
	return dbPool{PoolConfig: postgres.PoolConfig{MaxOpenConns: 2, MaxIdleConns: 2,
		ConnMaxLifetime: cfg.Database.ConnMaxLifetime, ConnMaxIdleTime: connMaxIdleTime}}
}

func newDB(lc fx.Lifecycle, cfg Config, plan dbPool, logger *zap.Logger, tp trace.TracerProvider) (*sqlx.DB, error) {
	pool := plan.PoolConfig
	pool.Tracer = tp
	db, err := postgres.Open(appNamedURL(cfg.Database.URL), pool)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			// Not fatal: the store answers 503 until PostgreSQL is reachable.
			err := db.PingContext(ctx)
			if !plan.Probe {
				return nil
			}
			if err != nil {
				logger.Warn("database not reachable yet", zap.String("url", cfg.RedactedDatabaseURL()), zap.Error(err))
				return nil
			}
			logger.Info("database connected", zap.String("url", cfg.RedactedDatabaseURL()))
			if state, err := schemaState(ctx, db); err != nil {
				logger.Warn("database schema not ready", zap.String("schema", err.Error()))
			} else {
				logger.Info("database schema", zap.String("schema", state))
			}
			if plan.Warm {
				warmPool(ctx, db, pool)
			}
			return nil
		},
		OnStop: func(context.Context) error {
			return closeLogged(logger, "database pool", func() error { return postgres.Close(db) })
		},
	})
	return db, nil
}

func newPostgresJobs(lc fx.Lifecycle, db *sqlx.DB, cfg Config, logger *zap.Logger) (*postgres.Jobs, error) {
	j, err := postgres.NewJobs(db, cfg.Database.QueryTimeout)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(func() error { return closeLogged(logger, "prepared statements", j.Close) }))
	return j, nil
}

// FeedPoolConns is the size of the change feed's own pool: its reads of
// the log's changes, one at a time.
const FeedPoolConns = 2

// newFeedLog gives the change feed's reads of the log a pool of its own,
// named "<application_name>-feed" ("jobstatus-feed") in pg_stat_activity:
// they never queue behind the requests' or the streams' replays (which
// stay on the store's pool), and a stalled one is found by name.
func newFeedLog(lc fx.Lifecycle, store *postgres.Jobs, cfg Config, logger *zap.Logger) (feedLog, error) {
	url, err := postgres.NamedURL(cfg.Database.URL, "feed")
	if err != nil {
		return feedLog{}, err
	}
	db, err := postgres.Open(url, postgres.PoolConfig{MaxOpenConns: FeedPoolConns, MaxIdleConns: FeedPoolConns,
		ConnMaxLifetime: cfg.Database.ConnMaxLifetime, ConnMaxIdleTime: connMaxIdleTime})
	if err != nil {
		return feedLog{}, err
	}
	j, err := postgres.NewJobs(db, cfg.Database.QueryTimeout)
	if err != nil {
		return feedLog{}, err
	}
	lc.Append(fx.StopHook(func() error {
		_ = closeLogged(logger, "the feed's statements", j.Close)
		return closeLogged(logger, "the feed's pool", func() error { return postgres.Close(db) })
	}))
	return feedLog{feedReads{Jobs: store, feed: j}}, nil
}

// feedReads reads the log's changes on the feed's own pool and everything
// else (the streams' replays, the log's head and horizon) on the store's.
type feedReads struct {
	*postgres.Jobs
	feed *postgres.Jobs
}

// ChangesAfter implements ports.ChangeLog on the feed's pool (the horizon
// it reads with the changes included).
func (r feedReads) ChangesAfter(ctx context.Context, after int64, limit int) ([]ports.Change, int64, error) {
	return r.feed.ChangesAfter(ctx, after, limit)
}

// appNamedURL names the connections of the service's and the commands'
// own pools "jobstatus" in pg_stat_activity, beside "jobstatus-feed" and
// "jobstatus-listener", unless the URL names them itself. A URL it cannot
// read is left as it is, for the driver to refuse.
func appNamedURL(raw string) string {
	if named, err := postgres.NamedURL(raw, ""); err == nil {
		return named
	}
	return raw
}

// closeLogged closes a database resource at shutdown and logs, rather than
// returns, what closing reports: after PostgreSQL restarted, or while it is
// down, closing a dead connection fails ("broken pipe") although nothing is
// left open, and a clean stop must still exit 0.
func closeLogged(logger *zap.Logger, what string, close func() error) error {
	if err := close(); err != nil {
		logger.Warn("closing "+what+" reported an error; it is closed anyway", zap.Error(err))
	}
	return nil
}

// warmPool opens the pool's idle connections before traffic arrives, so the
// first burst of requests does not queue behind that many authentication
// handshakes at once. It never asks for more than the pool may open: that
// would wait for ever.
func warmPool(ctx context.Context, db *sqlx.DB, pool postgres.PoolConfig) {
	n := min(pool.MaxIdleConns, pool.MaxOpenConns)
	conns := make([]*sql.Conn, 0, max(n, 0))
	for range n {
		c, err := db.Conn(ctx)
		if err != nil {
			break
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		_ = c.Close() // back to the idle pool
	}
}
