package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// MigrationResult says what Migrate applied.
type MigrationResult struct {
	Applied []int64
	Current int64
}

// Migrate applies every pending migration embedded in the binary. goose
// takes a session-level advisory lock, so concurrent runs are safe. A
// database at a newer version than the binary knows is refused
// (ErrSchemaNewer), not reported as up to date.
func Migrate(ctx context.Context, db *sqlx.DB) (MigrationResult, error) {
	schema, err := ReadSchema(ctx, db)
	if err != nil {
		return MigrationResult{}, err
	}
	if schema.Current > schema.Expected {
		return MigrationResult{}, fmt.Errorf("%w: the database is at version %d, this binary knows up to %d; run a newer jobstatus",
			ErrSchemaNewer, schema.Current, schema.Expected)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return MigrationResult{}, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return MigrationResult{}, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db.DB, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return MigrationResult{}, fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return MigrationResult{}, fmt.Errorf("apply migrations: %w", err)
	}
	var res MigrationResult
	for _, r := range results {
		res.Applied = append(res.Applied, r.Source.Version)
	}
	res.Current, err = p.GetDBVersion(ctx)
	if err != nil {
		return MigrationResult{}, fmt.Errorf("read schema version: %w", err)
	}
	return res, nil
}
