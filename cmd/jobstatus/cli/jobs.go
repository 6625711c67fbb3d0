package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

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

// createOptions are the flags of `jobs create`.
type createOptions struct {
	Client         string
	ID             string
	IdempotencyKey string
	ETA            time.Duration // 0: estimated from recent jobs
}

// Validate refuses a missing or invalid client, a malformed id and an eta
// out of bounds: the domain's rules, as the write API applies them.
func (o createOptions) Validate() error {
	if o.Client == "" {
		return usagef("--client is required")
	}
	if err := domain.CheckClientID("client", o.Client); err != nil {
		return err
	}
	if o.ID != "" {
		if err := checkJobID(o.ID); err != nil {
			return err
		}
	}
	if o.ETA != 0 {
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
		RunE: runE(&o, nil, func(ctx context.Context) error {
			return withApp(ctx, stdio, func(ctx context.Context, a *app.Operator) error { return runCreate(ctx, stdio, a, o) })
		}),
	}
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

// completeOptions are the arguments of `jobs complete`.
type completeOptions struct {
	ID    string
	Links []string // ENTITY=HREF
}

// Validate refuses a malformed id and a missing or malformed --link.
func (o completeOptions) Validate() error {
	if err := checkJobID(o.ID); err != nil {
		return err
	}
	if len(o.Links) == 0 {
		return usagef("--link is required: ENTITY=HREF, repeatable")
	}
	_, err := parseLinks(o.Links)
	return err
}

func newJobsCompleteCmd(stdio IO) *cobra.Command {
	var o completeOptions
	cmd := &cobra.Command{
		Use:   "complete ID --link ENTITY=HREF...",
		Short: "Move a PENDING job to DONE",
		Long: `Move a PENDING job to DONE with the links to what it created. Hrefs must be
RFC 3986 absolute paths (one leading /, no authority, scheme, query,
backslash, whitespace or dot segment) and entities tokens; anything else
exits 2 and leaves the job as it was. Repeating the same links is a no-op;
other links on a DONE job, or any outcome on a FAILED one, is a conflict
(exit 1).

Example:
  jobstatus jobs complete 0b6f… --link composition=/patients/p/encounter/e/composition/c`,
		Args: args(cobra.ExactArgs(1)),
		RunE: runE(&o, func(argv []string) { o.ID = argv[0] }, func(ctx context.Context) error {
			links, _ := parseLinks(o.Links) // checked by Validate
			return withApp(ctx, stdio, func(ctx context.Context, a *app.Operator) error {
				return printJob(stdio)(a.CompleteJob.Handle(ctx, app.CompleteJob{ID: o.ID, Links: links}))
			})
		}),
	}
	cmd.Flags().StringArrayVar(&o.Links, "link", nil, "ENTITY=HREF, repeatable (at least one)")
	return cmd
}

func parseLinks(in []string) ([]domain.Link, error) {
	out := make([]domain.Link, 0, len(in))
	for _, l := range in {
		entity, href, ok := strings.Cut(l, "=")
		if !ok || entity == "" || href == "" {
			return nil, usagef("--link %q: want ENTITY=HREF", l)
		}
		out = append(out, domain.Link{Entity: entity, Href: href})
	}
	return out, nil
}

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
	return nil
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

// purgeOptions are the flags of `jobs purge`.
type purgeOptions struct {
	OlderThan age
	DryRun    bool
}

// Validate refuses a missing or non-positive age.
func (o purgeOptions) Validate() error {
	if o.OlderThan <= 0 {
		return usagef("--older-than is required and must be positive, got %s", &o.OlderThan)
	}
	return nil
}

// age is a flag value for how long ago: whole days (90d), or any Go
// duration (2160h, 90m). Retention is thought of in days; Go's durations
// stop at hours.
type age time.Duration

// Set parses days or a Go duration.
func (a *age) Set(s string) error {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > maxAgeDays {
			return errors.New("whole days")
		}
		*a = age(time.Duration(n) * 24 * time.Hour)
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*a = age(d)
	return nil
}

// maxAgeDays keeps a day count inside a time.Duration (about 292 years).
const maxAgeDays = 100_000

// String prints whole days as days, anything else as a duration.
func (a *age) String() string {
	d := time.Duration(*a)
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return bootstrap.FormatDuration(d)
}

// Type names the value in help.
func (a *age) Type() string { return "age" }

// Want says what Set accepts, for the usage error.
func (a *age) Want() string { return "whole days such as 90d, or a duration such as 2160h" }

func newJobsPurgeCmd(stdio IO) *cobra.Command {
	var o purgeOptions
	cmd := &cobra.Command{
		Use:   "purge --older-than AGE [--dry-run]",
		Short: "Delete DONE and FAILED jobs that finished longer ago than AGE, in batches",
		Long: `Delete DONE and FAILED jobs whose finish is older than AGE, in short
batches; a PENDING job is never deleted. --dry-run only counts. Run it
from cron. AGE is whole days (90d) or a Go duration (2160h, 30m).

Example:
  jobstatus jobs purge --older-than 90d`,
		Args: args(cobra.NoArgs),
		RunE: runE(&o, nil, func(ctx context.Context) error {
			return withApp(ctx, stdio, func(ctx context.Context, a *app.Operator) error {
				n, err := a.PurgeJobs.Handle(ctx, app.PurgeJobs{OlderThan: time.Duration(o.OlderThan), DryRun: o.DryRun})
				if err != nil {
					return fmt.Errorf("purged %d jobs, then: %w", n, err)
				}
				return printJSON(stdio.Stdout, purgeView{DryRun: o.DryRun, Jobs: n})
			})
		}),
	}
	cmd.Flags().Var(&o.OlderThan, "older-than", "age of the finish time: whole days (90d) or a duration (720h) (required)")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "only count what would be deleted")
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
