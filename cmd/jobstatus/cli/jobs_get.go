package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
)

// getOptions are the arguments of `jobs get`.
type getOptions struct{ ID string }

// Validate refuses a malformed id, before any setting is read.
func (o getOptions) Validate() error { return checkJobID(o.ID) }

// checkJobID refuses what is not a job id, in the words wait uses.
func checkJobID(id string) error {
	if _, err := domain.ParseID(id); err != nil {
		return usagef("job id %q: want a UUID such as 89678f60-4cdc-4fe3-ae83-e8b3ebd35c59", id)
	}
	return nil
}

func newJobsGetCmd(stdio IO) *cobra.Command {
	var o getOptions
	return &cobra.Command{
		Use:   "get ID",
		Short: "Print a job",
		Long: `Print a job as JSON, whichever client owns it.

Example:
  jobstatus jobs get 0b6f8d0e-6a4b-4c1e-9d51-1b2f6d1c9a77`,
		Args: args(cobra.ExactArgs(1)),
		RunE: runE(&o, func(argv []string) { o.ID = argv[0] }, func(ctx context.Context) error {
			return withApp(ctx, stdio, func(ctx context.Context, a *app.Operator) error {
				return printJob(stdio)(a.GetJob.Handle(ctx, app.GetJob{ID: o.ID}))
			})
		}),
	}
}
