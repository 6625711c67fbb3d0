// Package cli is the jobstatus command line: one file per command, each
// with an options struct whose Validate checks what was typed before any
// setting is read, the exit statuses, and the views commands print. It
// runs the service and the use cases through bootstrap.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/dig"

	"github.com/jobstatus/jobstatus/bootstrap"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/internal/termtext"
)

// IO is where a command reads its environment and writes its output.
type IO struct {
	Stdout  io.Writer
	Stderr  io.Writer
	Environ []string
}

// Exit statuses of the command line, one per class of outcome. This is
// the one place they are decided; the root command's help lists them from
// exitStatuses. A command checks what was typed (arguments, flags) before
// the environment, so a mistake on the line is exit 2 whatever the
// settings are.
const (
	// exitOK: the command did what it was asked.
	exitOK = 0
	// exitFailure: the operation failed (unknown job, conflicting outcome,
	// database down, a FAILED job or an error answer for wait, a service
	// that cannot be reached), or a setting, a configuration file or a
	// credential file named by a setting is bad or missing.
	exitFailure = 1
	// exitUsage: the command line is wrong: a missing subcommand, argument
	// or flag, a malformed value, input the domain refuses.
	exitUsage = 2
	// exitTimedOut: wait only: the job did not finish within --timeout.
	exitTimedOut = 3
)

// exitStatuses says what each exit status means, for the root command's
// help: the one description of them.
var exitStatuses = []struct {
	code  int
	means string
}{
	{exitOK, "success"},
	{exitFailure, "failure: the operation failed, the service or database could not be\n     reached, or a setting is bad or missing"},
	{exitUsage, "bad command line or input, checked before the settings"},
	{exitTimedOut, "wait only: the job did not finish within --timeout"},
}

// exitStatusHelp lists exitStatuses, one line each.
func exitStatusHelp() string {
	var b strings.Builder
	for _, e := range exitStatuses {
		fmt.Fprintf(&b, "  %d  %s\n", e.code, e.means)
	}
	return b.String()
}

// usageError marks a mistake in the command line. The exit status is
// decided by this type (and domain.ValidationError) only, never by text.
type usageError struct{ err error }

// Error returns the mistake as the person should read it.
func (e usageError) Error() string { return e.err.Error() }

// Unwrap returns the underlying error, for errors.Is and errors.As.
func (e usageError) Unwrap() error { return e.err }

// exitError ends a command with its own status (wait's 3: not finished
// in time) and a message.
type exitError struct {
	code int
	err  error
}

// Error returns the message.
func (e exitError) Error() string { return e.err.Error() }

// Unwrap returns the underlying error.
func (e exitError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// Execute runs the command line and returns the process exit status.
func Execute(ctx context.Context, argv []string, stdio IO) int {
	root := newRootCmd(stdio)
	root.SetArgs(argv)
	root.SetOut(stdio.Stdout)
	root.SetErr(stdio.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	// An error may carry text from elsewhere (a server's message, a
	// driver's): escaped, so its control characters are not instructions
	// to the terminal.
	for line := range strings.Lines(describe(err)) {
		fmt.Fprintf(stdio.Stderr, "jobstatus: %s\n", termtext.Escape(strings.TrimRight(line, "\n")))
	}
	return exitStatus(err)
}

// exitStatus is the exit-status policy: a command's own status, usage
// errors and invalid input 2, everything else 1.
func exitStatus(err error) int {
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue usageError
	var ve *domain.ValidationError
	if errors.As(err, &ue) || errors.As(err, &ve) {
		return exitUsage
	}
	return exitFailure
}

// describe turns an error into what a person at a terminal needs: the root
// cause of a failed fx graph (a bad api-key or JWKS file names the file and
// the entry itself) without the dependency-injection plumbing around it,
// and domain errors as sentences. Each problem is one line.
func describe(err error) string {
	err = dig.RootCause(err)
	var v *domain.ValidationError
	switch {
	case errors.As(err, &v):
		return v.Error()
	case errors.Is(err, domain.ErrNotFound):
		return "job not found"
	case errors.Is(err, domain.ErrConflict):
		return "job already finished with a different outcome"
	case errors.Is(err, domain.ErrAlreadyExists):
		return "a job with this id exists already"
	case errors.Is(err, domain.ErrUnavailable):
		return "database unavailable: " + err.Error()
	}
	return err.Error()
}

// validator is a command's options struct.
type validator interface{ Validate() error }

// runE is the RunE every command shares: the positional arguments into the
// options (bind, if any), the options' Validate, then run.
func runE(opts validator, bind func(argv []string), run func(ctx context.Context) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, argv []string) error {
		if bind != nil {
			bind(argv)
		}
		if err := opts.Validate(); err != nil {
			return err
		}
		return run(cmd.Context())
	}
}

// args wraps a cobra argument check so its failures are usage errors.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// group is a command that only holds subcommands: without one it prints
// its help on stderr and is a usage error, as an unknown one is (cobra's
// own is a plain error). --help prints the help on stdout, exit 0.
func group(use, short, long string) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Long: long,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(cmd.ErrOrStderr())
			if err := cmd.Help(); err != nil {
				return err
			}
			return usagef("%s needs a command: %s", cmd.CommandPath(), strings.Join(subcommands(cmd), ", "))
		},
	}
}

// subcommands names the commands of a group a person can type.
func subcommands(cmd *cobra.Command) []string {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return names
}

// flagError turns cobra's and pflag's flag errors into usage errors; a
// value the flag cannot parse says what the flag wants instead of the
// parser's text (strconv.ParseInt: parsing "abc").
func flagError(_ *cobra.Command, err error) error {
	var invalid *pflag.InvalidValueError
	if errors.As(err, &invalid) {
		return usagef("--%s %q: want %s", invalid.GetFlag().Name, invalid.GetValue(), want(invalid.GetFlag().Value))
	}
	return usageError{err}
}

// wanter is a flag value that says what it accepts.
type wanter interface{ Want() string }

// want says in words what a flag of value v accepts.
func want(v pflag.Value) string {
	if w, ok := v.(wanter); ok {
		return w.Want()
	}
	switch v.Type() {
	case "int", "int64", "uint":
		return "a whole number"
	case "duration":
		return "a duration such as 90s, 15m or 2h"
	case "bool":
		return "true or false"
	}
	return "a " + v.Type()
}

func newRootCmd(stdio IO) *cobra.Command {
	root := group("jobstatus", "Status of asynchronous composition jobs", `jobstatus answers what became of an asynchronous job an MIS request started.

Configuration comes from built-in defaults, the YAML file named by
JOBSTATUS_CONFIG and JOBSTATUS_* variables (docs/configuration.md).

Exit status:
`+exitStatusHelp()+`
Example:
  jobstatus serve --dev`)
	root.SilenceUsage = true
	root.SilenceErrors = true
	// Applies to every subcommand: cobra asks the nearest command that has one.
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(newServeCmd(stdio), newMigrateCmd(stdio), newJobsCmd(stdio), newReportCmd(stdio),
		newTokenCmd(stdio), newKeygenCmd(stdio), newWaitCmd(stdio), newWatchCmd(stdio), newHealthcheckCmd(stdio), newVersionCmd(stdio))
	root.Version = Build().String()
	root.SetVersionTemplate("{{.Version}}\n")
	return root
}

// loadConfig loads and validates the configuration for mode.
func loadConfig(stdio IO, mode bootstrap.Mode) (bootstrap.Config, error) {
	cfg, err := bootstrap.LoadConfig(stdio.Environ)
	if err != nil {
		return bootstrap.Config{}, fmt.Errorf("configuration: %w", err)
	}
	return cfg, validated(cfg, mode)
}

// loadDatabaseConfig is loadConfig for a command that works on the
// database: without one, a missing setting.
func loadDatabaseConfig(stdio IO) (bootstrap.Config, error) {
	cfg, err := loadConfig(stdio, bootstrap.ModeTool)
	if err != nil {
		return cfg, err
	}
	return cfg, bootstrap.NeedDatabase(cfg)
}

// validated is cfg.Validate with each problem on a line of its own.
func validated(cfg bootstrap.Config, mode bootstrap.Mode) error {
	err := cfg.Validate(mode)
	if err == nil {
		return nil
	}
	// One line per problem, each saying where it comes from.
	var errs []error
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			errs = append(errs, fmt.Errorf("configuration: %w", e))
		}
		return errors.Join(errs...)
	}
	return fmt.Errorf("configuration: %w", err)
}
