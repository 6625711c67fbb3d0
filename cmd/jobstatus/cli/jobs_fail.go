package cli

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
)

// failOptions are the arguments of `jobs fail`.
type failOptions struct {
	ID      string
	Code    int
	Message string
}

// Validate refuses a malformed id, a missing or out-of-range code (the
// domain's rule, as the write API applies it) and a missing message.
func (o failOptions) Validate() error {
	if err := checkJobID(o.ID); err != nil {
		return err
	}
	if o.Code == 0 {
		return usagef("--code is required: %d to %d", domain.MinFailureCode, domain.MaxFailureCode)
	}
	if !domain.ValidFailureCode(o.Code) {
		return usagef("--code must be %d to %d, got %d", domain.MinFailureCode, domain.MaxFailureCode, o.Code)
	}
	if strings.TrimSpace(o.Message) == "" {
		return usagef("--message is required")
	}
	// The rest of the domain's rules, before any setting is read.
	_, err := domain.Failed(o.Code, o.Message, time.Time{})
	return err
}

func newJobsFailCmd(stdio IO) *cobra.Command {
	var o failOptions
	cmd := &cobra.Command{
		Use:   "fail ID --code N --message TEXT",
		Short: "Move a PENDING job to FAILED",
		Long: `Move a PENDING job to FAILED with a code and a message. Repeating the same
reason is a no-op; another outcome on a finished job is a conflict (exit 1).

Example:
  jobstatus jobs fail 0b6f… --code 422 --message "Composition signature is not valid"`,
		Args: args(cobra.ExactArgs(1)),
		RunE: runE(&o, func(argv []string) { o.ID = argv[0] }, func(ctx context.Context) error {
			return withApp(ctx, stdio, func(ctx context.Context, a *app.Operator) error {
				return printJob(stdio)(a.FailJob.Handle(ctx, app.FailJob{ID: o.ID, Code: o.Code, Message: o.Message}))
			})
		}),
	}
	cmd.Flags().IntVar(&o.Code, "code", 0, "failure code, HTTP-like: 1 to 999 (required)")
	cmd.Flags().StringVar(&o.Message, "message", "", "failure message (required)")
	return cmd
}
