package bootstrap

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/metrics"
	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/ports"
)

// PostgresModule binds the PostgreSQL store to ports.JobRepository and owns
// the pool's lifetime.
var PostgresModule = fx.Module("postgres",
	fx.Provide(
		newDB,
		newPostgresJobs,
		func(j *postgres.Jobs) store { return store{j} },
		func(j *postgres.Jobs) ports.DurationSource { return j },
		func(j *postgres.Jobs) ports.JobMaintenance { return j },
		func(j *postgres.Jobs) ports.ReportSource { return j },
		func(j *postgres.Jobs) storeReadiness {
			return func(ctx context.Context) (string, error) {
				if err := j.Ping(ctx); err != nil {
					return "", errors.New("database unreachable")
				}
				return "database answers", nil
			}
		},
	),
)

// PoolMetricsModule exports the connection pool's statistics.
var PoolMetricsModule = fx.Module("poolmetrics",
	fx.Invoke(func(m *metrics.Metrics, db *sqlx.DB) {
		m.Registry().MustRegister(collectors.NewDBStatsCollector(db.DB, "jobstatus"))
	}),
)

// ListenerModule wakes waiting requests on PostgreSQL notifications, so a
// change made by any instance or command reaches every instance.
var ListenerModule = fx.Module("pglistener",
	fx.Invoke(func(lc fx.Lifecycle, cfg Config, changes *app.Changes, logger *zap.Logger) {
		var ln *postgres.Listener
		lc.Append(fx.Hook{
			OnStart: func(context.Context) error {
				ln = postgres.Listen(cfg.Database.URL, changes.Publish, changes.PublishAll, logger.Named("pglistener"))
				return nil
			},
			OnStop: func(ctx context.Context) error { return ln.Close(ctx) },
		})
	}),
)

func newDB(lc fx.Lifecycle, cfg Config, logger *zap.Logger) (*sqlx.DB, error) {
	db, err := postgres.Open(cfg.Database.URL, postgres.PoolConfig{
		MaxOpenConns:    cfg.Database.MaxOpenConns,
		MaxIdleConns:    cfg.Database.MaxIdleConns,
		ConnMaxLifetime: cfg.Database.ConnMaxLifetime,
	})
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
			warmPool(ctx, db, cfg.Database.MaxIdleConns)
			return nil
		},
		OnStop: func(context.Context) error { return db.Close() },
	})
	return db, nil
}

func newPostgresJobs(lc fx.Lifecycle, db *sqlx.DB, cfg Config) *postgres.Jobs {
	j := postgres.NewJobs(db, cfg.Database.QueryTimeout)
	lc.Append(fx.StopHook(j.Close))
	return j
}

// warmPool opens n connections before traffic arrives, so the first burst
// of requests does not queue behind n authentication handshakes at once.
func warmPool(ctx context.Context, db *sqlx.DB, n int) {
	conns := make([]*sql.Conn, 0, n)
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
