package cli_test

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/cmd/jobstatus/cli"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestHealthcheck: the command asks the admin listener named by the
// configuration and exits 0 only when it answers 200.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	admin := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	stderr := &testkit.LockedBuffer{}
	go func() {
		done <- cli.Execute(ctx, []string{"serve", "--dev"}, cli.IO{Stdout: &testkit.LockedBuffer{}, Stderr: stderr,
			Environ: []string{"JOBSTATUS_HTTP_ADDR=127.0.0.1:0", "JOBSTATUS_ADMIN_ADDR=" + admin}})
	}()
	t.Cleanup(func() {
		cancel()
		require.Equal(t, 0, <-done, stderr.String())
	})
	// Waits for the service started beside it, as the README does.
	var out strings.Builder
	code := cli.Execute(context.Background(), []string{"healthcheck", "--wait", "20s"},
		cli.IO{Stdout: &out, Stderr: &out, Environ: []string{"JOBSTATUS_ADMIN_ADDR=" + admin}})
	require.Equal(t, 0, code, out.String())

	closed := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	tests := []struct {
		name   string
		env    []string
		argv   []string
		code   int
		stdout string // contained
		stderr string // contained
	}{
		{"Ready", []string{"JOBSTATUS_ADMIN_ADDR=" + admin}, nil, 0, `"status":"ready"`, ""},
		{"Live", []string{"JOBSTATUS_ADMIN_ADDR=" + admin}, []string{"--live"}, 0, `"status":"ok"`, ""},
		{"UnspecifiedHostDialsLoopback", []string{"JOBSTATUS_ADMIN_ADDR=:" + strings.Split(admin, ":")[1]}, nil, 0, `"status":"ready"`, ""},
		{"NothingListens", []string{"JOBSTATUS_ADMIN_ADDR=" + closed}, nil, 1, "", "connection refused"},
		{"AdminDisabled", []string{"JOBSTATUS_ADMIN_ADDR="}, nil, 1, "", "healthcheck asks the admin listener, and JOBSTATUS_ADMIN_ADDR (admin_addr) is empty: it is disabled"},
		{"BadTimeout", nil, []string{"--timeout", "0s"}, 2, "", "--timeout must be positive, got 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, errOut strings.Builder
			code := cli.Execute(context.Background(), append([]string{"healthcheck"}, tt.argv...),
				cli.IO{Stdout: &stdout, Stderr: &errOut, Environ: tt.env})
			require.Equal(t, tt.code, code, errOut.String())
			require.Contains(t, stdout.String(), tt.stdout)
			require.Contains(t, errOut.String(), tt.stderr)
		})
	}
}

// TestVersion: `version` and `--version` print the same line with the
// version, the commit and the Go version.
func TestVersion(t *testing.T) {
	t.Parallel()
	want := cli.Build().String() + "\n"
	require.Contains(t, want, runtime.Version())
	require.Contains(t, want, "commit ")
	for _, argv := range [][]string{{"version"}, {"--version"}} {
		r := execute(t, nil, argv...)
		require.Equal(t, 0, r.code, r.stderr)
		require.Equal(t, want, r.stdout, argv)
	}
}
