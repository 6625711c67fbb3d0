package bootstrap

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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
		fx.Annotate(newPostgresJobs,
			fx.As(fx.Self()),
			fx.As(new(ports.JobRepository)),
			fx.As(new(ports.DurationSource)),
			fx.As(new(ports.JobMaintenance)),
			fx.As(new(ports.ReportSource)),
		),
		readiness(func(j *postgres.Jobs) httpapi.Check {
			return httpapi.Check{Name: "store", Fn: func(ctx context.Context) (string, error) {
				if err := j.Ping(ctx); err != nil {
					return "", errors.New("database unreachable")
				}
				return "database answers", nil
			}}
		}),
		collector(func(db *sqlx.DB) prometheus.Collector { return collectors.NewDBStatsCollector(db.DB, metricsNamespace) }),
	),
)

// ListenerModule keeps the read model and the waiters told of PostgreSQL's
// changes, so a change made by any instance or command reaches every
// instance. Its connection is its own, outside the pool, and is taken
// first: serveCore lists this module before the store, so its start hook
// runs (and waits up to listenerStartWait for the connection) before the
// pool is warmed. /readyz and jobstatus_listener_up say when it is down.
var ListenerModule = fx.Module("pglistener",
	fx.Provide(
		func() *listenerState { return &listenerState{} },
		readiness(func(st *listenerState) httpapi.Check {
			return httpapi.Check{Name: "notifications", Fn: func(context.Context) (string, error) {
				if !st.up.Load() {
					return "", errors.New("change notifications down: reading through to the database")
				}
				return "listening", nil
			}}
		}),
		collector(func(st *listenerState) prometheus.Collector {
			return gaugeFunc("listener_up", "1 while the change notification listener listens.", nil, func() float64 {
				if st.up.Load() {
					return 1
				}
				return 0
			})
		}),
	),
	fx.Invoke(func(lc fx.Lifecycle, cfg Config, sink ports.JobChanges, st *listenerState, logger *zap.Logger) {
		var ln *postgres.Listener
		lc.Append(fx.Hook{
			OnStart: func(ctx context.Context) (err error) {
				ln, err = postgres.Listen(cfg.Database.URL, listenerSink{sink, st}, logger.Named("pglistener"))
				if err != nil {
					return err
				}
				wait, cancel := context.WithTimeout(ctx, listenerStartWait)
				defer cancel()
				select {
				case <-ln.Ready():
				case <-wait.Done(): // not fatal: reads go to the database until it listens
					logger.Warn("change notifications not listening yet")
				}
				return nil
			},
			OnStop: func(ctx context.Context) error {
				if ln == nil {
					return nil
				}
				return ln.Close(ctx)
			},
		})
	}),
)

// listenerStartWait is how long start waits for the listener's connection
// before the pool takes its own.
const listenerStartWait = 5 * time.Second

// listenerState says whether the listener listens.
type listenerState struct{ up atomic.Bool }

// listenerSink records the listener's state on its way to the sink.
type listenerSink struct {
	ports.JobChanges
	st *listenerState
}

func (s listenerSink) Live(live bool) {
	s.st.up.Store(live)
	s.JobChanges.Live(live)
}

func newDB(lc fx.Lifecycle, cfg Config, logger *zap.Logger) (*sqlx.DB, error) {
	pool := postgres.PoolConfig{
		MaxOpenConns:    cfg.Database.MaxOpenConns,
		MaxIdleConns:    cfg.Database.MaxIdleConns,
		ConnMaxLifetime: cfg.Database.ConnMaxLifetime,
		ConnMaxIdleTime: connMaxIdleTime,
	}
	db, err := postgres.Open(cfg.Database.URL, pool)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			// Not fatal: the store answers 503 until PostgreSQL is reachable.
			if err := db.PingContext(ctx); err != nil {
				logger.Warn("database not reachable yet", zap.String("url", cfg.RedactedDatabaseURL()), zap.Error(err))
				return nil
			}
			logger.Info("database connected", zap.String("url", cfg.RedactedDatabaseURL()))
			warmPool(ctx, db, pool)
			return nil
		},
		OnStop: func(context.Context) error { return db.Close() },
	})
	return db, nil
}

// migrationPool is the small pool of the migrate commands.
func migrationPool(cfg Config) postgres.PoolConfig {
	return postgres.PoolConfig{MaxOpenConns: 2, MaxIdleConns: 2, ConnMaxLifetime: cfg.Database.ConnMaxLifetime, ConnMaxIdleTime: connMaxIdleTime}
}

func newPostgresJobs(lc fx.Lifecycle, db *sqlx.DB, cfg Config) (*postgres.Jobs, error) {
	j, err := postgres.NewJobs(db, cfg.Database.QueryTimeout)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(j.Close))
	return j, nil
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
