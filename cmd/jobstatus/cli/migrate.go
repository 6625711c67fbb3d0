package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/jobstatus/jobstatus/bootstrap"
)

// migrateOptions are the flags of `jobstatus migrate` (none today).
type migrateOptions struct{}

// Validate accepts every migrateOptions.
func (migrateOptions) Validate() error { return nil }

func newMigrateCmd(stdio IO) *cobra.Command {
	var o migrateOptions
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations",
		Long: `Apply the embedded migrations to JOBSTATUS_DATABASE_URL and print what was
applied. Safe to run from several places at once: goose takes an advisory
lock. A database at a newer version than this binary knows is refused
(exit 1).

Example:
  JOBSTATUS_DATABASE_URL='postgres://app@127.0.0.1:5432/jobs?sslmode=disable' jobstatus migrate
  JOBSTATUS_DATABASE_URL='postgres://app@127.0.0.1:5432/jobs?sslmode=disable' jobstatus migrate status`,
		Args: args(cobra.NoArgs),
		RunE: runE(o, nil, func(ctx context.Context) error { return runMigrate(ctx, stdio) }),
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Print the applied and pending migrations",
		Long: `Print the schema version of JOBSTATUS_DATABASE_URL, the version this binary
needs, and the applied and pending migrations, as JSON. Changes nothing.

Example:
  JOBSTATUS_DATABASE_URL='postgres://app@127.0.0.1:5432/jobs?sslmode=disable' jobstatus migrate status`,
		Args: args(cobra.NoArgs),
		RunE: runE(o, nil, func(ctx context.Context) error { return runMigrateStatus(ctx, stdio) }),
	})
	return cmd
}

func runMigrateStatus(ctx context.Context, stdio IO) error {
	cfg, err := loadDatabaseConfig(stdio)
	if err != nil {
		return err
	}
	s, err := bootstrap.ReadSchema(ctx, cfg)
	if err != nil {
		return err
	}
	return printJSON(stdio.Stdout, newSchemaView(s))
}

func runMigrate(ctx context.Context, stdio IO) error {
	cfg, err := loadDatabaseConfig(stdio)
	if err != nil {
		return err
	}
	res, err := bootstrap.Migrate(ctx, cfg)
	if err != nil {
		return err
	}
	return printJSON(stdio.Stdout, newMigrationView(res))
}
