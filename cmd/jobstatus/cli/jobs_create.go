package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
)

// createOptions are the flags of `jobs create`.
type createOptions struct {
	Client         string
	ID             string
	IDSet          bool // --id was given: an empty id is refused, not read as a random one
	IdempotencyKey string
	KeySet         bool          // --idempotency-key was given: an empty key is refused, as the write API refuses an empty header
	ETA            time.Duration // 0 without --eta: estimated from recent jobs
	ETASet         bool          // --eta was given: its value must be in bounds, 0 included
}

// Validate refuses a missing or invalid client, a malformed id, an invalid
// idempotency key and an eta out of bounds: the domain's rules, as the write
// API applies them.
func (o createOptions) Validate() error {
	if o.Client == "" {
		return usagef("--client is required")
	}
	if err := domain.CheckClientID("client", o.Client); err != nil {
		return err
	}
	if o.IDSet || o.ID != "" {
		// An unset variable in --id "$ID" must not create a job under a
		// random id that nobody asks for.
		if err := checkJobID(o.ID); err != nil {
			return err
		}
	}
	if o.KeySet && o.IdempotencyKey == "" {
		// An unset variable in --idempotency-key "$KEY" must not create a
		// job that no repeat finds again.
		return &domain.ValidationError{Field: "idempotency_key", Reason: domain.IdempotencyKeyRule}
	}
	if err := domain.CheckIdempotencyKey(o.IdempotencyKey); err != nil {
		return err
	}
	if o.ETASet || o.ETA != 0 {
		return domain.CheckETA(o.ETA)
	}
	return nil
}

func newJobsCreateCmd(stdio IO) *cobra.Command {
	var o createOptions
	cmd := &cobra.Command{
		Use:   "create --client ID [--id UUID] [--eta DURATION] [--idempotency-key K]",
		Short: "Create a PENDING job",
		Long: `Create a PENDING job owned by a client and print it. Without --eta the eta
is estimated from recent jobs, as the service does. With --idempotency-key,
while the client's job with that key is PENDING, that job is printed instead
of starting another.

Example:
  jobstatus jobs create --client mis-alpha --idempotency-key sign-42`,
		Args: args(cobra.NoArgs),
	}
	cmd.RunE = runE(&o, func([]string) {
		o.IDSet, o.ETASet, o.KeySet = cmd.Flags().Changed("id"), cmd.Flags().Changed("eta"), cmd.Flags().Changed("idempotency-key")
	}, func(ctx context.Context) error {
		return withApp(ctx, stdio, func(ctx context.Context, a *app.Operator) error { return runCreate(ctx, stdio, a, o) })
	})
	cmd.Flags().StringVar(&o.Client, "client", "", "owning MIS client id (required)")
	cmd.Flags().StringVar(&o.ID, "id", "", "job id (UUID); random when omitted")
	cmd.Flags().StringVar(&o.IdempotencyKey, "idempotency-key", "",
		"repeat-safe create: while the client's job with this key is PENDING, print that job instead")
	cmd.Flags().DurationVar(&o.ETA, "eta", 0, "expected time to completion, over zero and at most 24h (default: estimated from recent jobs)")
	return cmd
}

func runCreate(ctx context.Context, stdio IO, a *app.Operator, o createOptions) error {
	if o.ETA == 0 {
		// Estimate from the store's recent history, as the service does.
		if err := a.RefreshETA(ctx); err != nil {
			return err
		}
	}
	return printJob(stdio)(a.CreateJob.Handle(ctx, app.CreateJob{ClientID: o.Client, ID: o.ID, ETA: o.ETA, IdempotencyKey: o.IdempotencyKey}))
}
