package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/dig"

	"github.com/jobstatus/jobstatus/domain"
)

// IO is where a command reads its environment and writes its output.
type IO struct {
	Stdout  io.Writer
	Stderr  io.Writer
	Environ []string
}

// Exit statuses of the command line.
const (
	exitOK      = 0
	exitFailure = 1 // the operation failed: unknown job, database down, bad file
	exitUsage   = 2 // the command line is wrong: missing flag, malformed value
)

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
	for line := range strings.Lines(describe(err)) {
		fmt.Fprintf(stdio.Stderr, "jobstatus: %s\n", strings.TrimRight(line, "\n"))
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
// help; an unknown one is a usage error (cobra's own is a plain error).
func group(use, short, long string) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Long: long,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
}

func newRootCmd(stdio IO) *cobra.Command {
	root := group("jobstatus", "Status of asynchronous composition jobs", `jobstatus answers what became of an asynchronous job an MIS request started.

Configuration comes from built-in defaults, the YAML file named by
JOBSTATUS_CONFIG and JOBSTATUS_* variables (docs/configuration.md).
Exit status: 0 success, 1 failure, 2 bad command line or input (wait: 3
not finished in time).

Example:
  jobstatus serve --dev`)
	root.SilenceUsage = true
	root.SilenceErrors = true
	// Applies to every subcommand: cobra asks the nearest command that has one.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServeCmd(stdio), newMigrateCmd(stdio), newJobsCmd(stdio), newReportCmd(stdio),
		newTokenCmd(stdio), newKeygenCmd(stdio), newWaitCmd(stdio), newWatchCmd(stdio), newHealthcheckCmd(stdio), newVersionCmd(stdio))
	root.Version = Build().String()
	root.SetVersionTemplate("{{.Version}}\n")
	return root
}

// loadConfig loads and validates the configuration for mode.
func loadConfig(stdio IO, mode Mode) (Config, error) {
	cfg, err := readConfig(stdio)
	if err != nil {
		return Config{}, err
	}
	return cfg, validated(cfg, mode)
}

// readConfig loads the configuration without validating it.
func readConfig(stdio IO) (Config, error) {
	cfg, err := LoadConfig(stdio.Environ)
	if err != nil {
		return Config{}, fmt.Errorf("configuration: %w", err)
	}
	return cfg, nil
}

func validated(cfg Config, mode Mode) error {
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

func envSet(stdio IO, name string) bool {
	for _, kv := range stdio.Environ {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}
