package cli

import (
	"context"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/jobstatus/jobstatus/adapters/report"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
)

// reportFormats are the values of `report --format`.
var reportFormats = []string{"csv", "json", "table"}

// reportOptions are the flags of `jobstatus report`.
type reportOptions struct {
	From, To  string // YYYY-MM-DD, UTC, inclusive
	Client    string // empty: every client
	ClientSet bool   // --client was given: an empty one is refused, not read as every client
	Format    string
}

// Validate refuses missing or malformed days, an unknown format and what
// the use case refuses (to before from, a malformed client), before any
// setting is read.
func (o reportOptions) Validate() error {
	from, to, err := o.days()
	if err != nil {
		return err
	}
	if !slices.Contains(reportFormats, o.Format) {
		return usagef("--format %q: want csv, json or table", o.Format)
	}
	if o.ClientSet && o.Client == "" {
		// An unset variable in --client "$CLINIC" must not report every
		// clinic's jobs.
		return domain.CheckClientID("client", o.Client)
	}
	return o.report(from, to).Validate()
}

// report is the use case's input for the days from and to.
func (o reportOptions) report(from, to time.Time) app.Report {
	return app.Report{From: from, To: to, ClientID: o.Client, TopFailures: reportTopFailures}
}

func (o reportOptions) days() (from, to time.Time, err error) {
	switch {
	case o.From == "":
		return from, to, usagef("--from is required: YYYY-MM-DD")
	case o.To == "":
		return from, to, usagef("--to is required: YYYY-MM-DD")
	}
	if from, err = time.Parse(time.DateOnly, o.From); err != nil {
		return from, to, usagef("--from %q: want YYYY-MM-DD", o.From)
	}
	if to, err = time.Parse(time.DateOnly, o.To); err != nil {
		return from, to, usagef("--to %q: want YYYY-MM-DD", o.To)
	}
	return from, to, nil
}

func newReportCmd(stdio IO) *cobra.Command {
	var o reportOptions
	cmd := &cobra.Command{
		Use:   "report --from DATE --to DATE [--client ID] [--format csv|json|table]",
		Short: "Jobs per day, client and status; time to DONE; top failures (in-process, streamed)",
		Long: `Aggregate jobs in PostgreSQL and stream the rows to stdout: jobs per day,
client and status, time to DONE (p50, p90, p99) and the top failure codes.
Memory stays flat over millions of jobs. Progress goes to stderr when it is
a terminal.

Example:
  jobstatus report --from 2026-11-01 --to 2026-11-30 --client mis-alpha --format csv`,
		Args: args(cobra.NoArgs),
	}
	cmd.RunE = runE(&o, func([]string) { o.ClientSet = cmd.Flags().Changed("client") },
		func(ctx context.Context) error { return runReport(ctx, stdio, o) })
	cmd.Flags().StringVar(&o.From, "from", "", "first day, YYYY-MM-DD (UTC, required)")
	cmd.Flags().StringVar(&o.To, "to", "", "last day, YYYY-MM-DD (UTC, inclusive, required)")
	cmd.Flags().StringVar(&o.Client, "client", "", "only this client's jobs")
	cmd.Flags().StringVar(&o.Format, "format", "table", "csv, json or table")
	return cmd
}

func runReport(ctx context.Context, stdio IO, o reportOptions) error {
	from, to, err := o.days()
	if err != nil {
		return err
	}
	sink, err := report.New(o.Format, stdio.Stdout, report.Header{From: from, To: to, ClientID: o.Client})
	if err != nil {
		return usageError{err}
	}
	if f, ok := stdio.Stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		sink = report.Progress(sink, stdio.Stderr, 200*time.Millisecond)
	}
	return withApp(ctx, stdio, func(ctx context.Context, a *app.Operator) error {
		return a.Report.Handle(ctx, o.report(from, to), sink)
	})
}

// reportTopFailures is how many failure codes a report lists.
const reportTopFailures = 10
