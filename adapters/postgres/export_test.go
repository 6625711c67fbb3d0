package postgres

import (
	"context"
	"io/fs"
	"time"

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

// SetCancelWait sets how long a cancel request may wait for the server's
// answer, until the test ends: a test makes it long enough that waiting on
// it cannot pass for giving up by a deadline.
func SetCancelWait(t interface{ Cleanup(func()) }, d time.Duration) {
	old := cancelWait.Swap(int64(d))
	t.Cleanup(func() { cancelWait.Store(old) })
}
