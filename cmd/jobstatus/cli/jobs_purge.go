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
)

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
