package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/bootstrap"
	"github.com/jobstatus/jobstatus/domain"
)

func newJobsCmd(stdio IO) *cobra.Command {
	cmd := group("jobs", "Create, finish and inspect jobs in-process (no HTTP)",
		`Call the application's use cases in-process against JOBSTATUS_DATABASE_URL,
with no HTTP: the same use cases a batch tool reuses. Each prints the job
as JSON.

Example:
  jobstatus jobs create --client mis-alpha`)
	cmd.AddCommand(newJobsCreateCmd(stdio), newJobsCompleteCmd(stdio), newJobsFailCmd(stdio),
		newJobsGetCmd(stdio), newJobsPurgeCmd(stdio))
	return cmd
}

// printJob returns what prints the job a use case returned, or passes on
// its error.
func printJob(stdio IO) func(domain.Job, error) error {
	return func(j domain.Job, err error) error {
		if err != nil {
			return err
		}
		return printJSON(stdio.Stdout, jobView(j))
	}
}

// withApp runs fn against the use cases wired to the configured store, in
// process, with no HTTP.
func withApp(ctx context.Context, stdio IO, fn func(context.Context, *app.Operator) error) error {
	cfg, err := loadDatabaseConfig(stdio)
	if err != nil {
		return err
	}
	cfg.Log.Level = "warn"
	logger, err := bootstrap.NewLogger(cfg.Log, stdio.Stderr)
	if err != nil {
		return err
	}
	return bootstrap.WithOperator(ctx, cfg, logger, fn)
}
