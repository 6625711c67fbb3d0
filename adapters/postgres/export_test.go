package postgres

import (
	"context"
	"io/fs"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
)

// MigrateTo applies the embedded migrations up to version: tests use it to
// run a migration against rows written under the schema before it.
func MigrateTo(ctx context.Context, db *sqlx.DB, version int64) error {
	p, err := provider(db)
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}

// MigrateDownTo rolls the embedded migrations back to version.
func MigrateDownTo(ctx context.Context, db *sqlx.DB, version int64) error {
	p, err := provider(db)
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, version)
	return err
}

func provider(db *sqlx.DB) (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db.DB, sub)
}
