package bootstrap

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/app"
)

// WithOperator runs fn against the operators' use cases wired to the
// configured store (ToolOptions), in process, with no HTTP, and stops the
// graph after it.
func WithOperator(ctx context.Context, cfg Config, logger *zap.Logger, fn func(context.Context, *app.Operator) error) error {
	var a *app.Operator
	fxApp := fx.New(ToolOptions(cfg, logger), fx.Populate(&a))
	if err := fxApp.Err(); err != nil {
		return err
	}
	if err := fxApp.Start(ctx); err != nil {
		return err
	}
	runErr := fn(ctx, a)
	stopErr := fxApp.Stop(context.Background())
	return errors.Join(runErr, stopErr)
}

// Migrate applies the embedded migrations to the configured database, on
// the one-shot commands' small pool.
func Migrate(ctx context.Context, cfg Config) (postgres.MigrationResult, error) {
	db, err := postgres.Open(appNamedURL(cfg.Database.URL), toolPool(cfg).PoolConfig)
	if err != nil {
		return postgres.MigrationResult{}, err
	}
	defer db.Close()
	return postgres.Migrate(ctx, db)
}

// ReadSchema reads the configured database's schema version and its
// applied and pending migrations.
func ReadSchema(ctx context.Context, cfg Config) (postgres.Schema, error) {
	db, err := postgres.Open(appNamedURL(cfg.Database.URL), toolPool(cfg).PoolConfig)
	if err != nil {
		return postgres.Schema{}, err
	}
	defer db.Close()
	return postgres.ReadSchema(ctx, db)
}

// runMigrations is serve --migrate: Migrate, then a log line.
func runMigrations(ctx context.Context, cfg Config, logger *zap.Logger) error {
	if err := NeedDatabase(cfg); err != nil {
		return err
	}
	res, err := Migrate(ctx, cfg)
	if err != nil {
		return err
	}
	logger.Info("migrations applied", zap.Int64s("applied", res.Applied), zap.Int64("version", res.Current))
	return nil
}

// NeedDatabase refuses a configuration without a database for a command
// that works on one: a missing setting, so exit 1 like any bad setting.
func NeedDatabase(cfg Config) error {
	if cfg.Database.URL == "" {
		return fmt.Errorf("configuration: %s is required by this command: the in-memory store lives only inside one process", name("database.url"))
	}
	return nil
}
