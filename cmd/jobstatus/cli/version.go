package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set by `make build` with -ldflags -X; empty in a plain `go build`, where
// the module and VCS stamps of the build info stand in.
var (
	version string
	commit  string
)

// BuildInfo is what `jobstatus version` prints.
type BuildInfo struct {
	Version   string // a tag or git describe, or the module version
	Commit    string // the VCS revision, "unknown" when not stamped
	GoVersion string // the toolchain that built the binary
}

// String is the one line `version` and `--version` print.
func (b BuildInfo) String() string {
	return fmt.Sprintf("jobstatus %s (commit %s, %s)", b.Version, b.Commit, b.GoVersion)
}

// Build returns the binary's version, commit and Go version: from the
// -ldflags -X values `make build` sets, else from runtime/debug build info.
func Build() BuildInfo {
	b := BuildInfo{Version: version, Commit: commit, GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && info.Main.Version != "" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && b.Commit == "" {
				b.Commit = s.Value
			}
		}
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}

func newVersionCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version (same as --version)",
		Long: `Print the version, the commit it was built from and the Go version.

Example:
  jobstatus version`,
		Args: args(cobra.NoArgs),
		RunE: runE(noOptions{}, nil, func(context.Context) error {
			_, err := fmt.Fprintln(stdio.Stdout, Build())
			return err
		}),
	}
}

// noOptions is the options struct of a command without flags.
type noOptions struct{}

// Validate accepts noOptions.
func (noOptions) Validate() error { return nil }
