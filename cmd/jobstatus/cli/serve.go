package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/jobstatus/jobstatus/bootstrap"
)

// serveOptions are the flags of `jobstatus serve`.
type serveOptions struct {
	Dev     bool // in-memory demo: own key, client and jobs
	Migrate bool // apply migrations before serving
}

// Validate refuses contradictory flags.
func (o serveOptions) Validate() error {
	if o.Dev && o.Migrate {
		return usagef("--migrate applies to a database; --dev serves from memory")
	}
	return nil
}

func newServeCmd(stdio IO) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--dev] [--migrate]",
		Short: "Run the HTTP service",
		Long: `Run the public HTTP API, the write API for workers (JOBSTATUS_INTERNAL_ADDR)
and the admin listener until SIGINT or SIGTERM.
SIGHUP reloads the api-keys file and the JWKS (so do changes to the files).

Without --dev the auth settings are required (JOBSTATUS_AUTH_*,
JOBSTATUS_API_KEYS_FILE); every setting is validated first and each
problem is reported in one line.

Example:
  JOBSTATUS_DATABASE_URL='postgres://app@127.0.0.1:5432/jobs?sslmode=disable' jobstatus serve --migrate
  jobstatus serve --dev   # in-memory demo on 127.0.0.1:8080, prints curl lines`,
		Args: args(cobra.NoArgs),
		RunE: runE(&o, nil, func(ctx context.Context) error { return runServe(ctx, stdio, o) }),
	}
	cmd.Flags().BoolVar(&o.Dev, "dev", false, "in-memory demo jobs, an ephemeral signing key, and curl lines printed at start")
	cmd.Flags().BoolVar(&o.Migrate, "migrate", false, "apply database migrations before serving")
	return cmd
}

func runServe(ctx context.Context, stdio IO, o serveOptions) error {
	return bootstrap.Serve(ctx, bootstrap.ServeParams{Dev: o.Dev, Migrate: o.Migrate,
		Stdout: stdio.Stdout, Stderr: stdio.Stderr, Environ: stdio.Environ}, validated)
}
