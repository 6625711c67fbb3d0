// Package e2e runs the real jobstatus binary as a subprocess against
// PostgreSQL in a container: migrations, the job commands, and the HTTP
// service with real tokens and api-keys, as an operator would.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

var (
	pg  *pgtest.Postgres
	bin string
)

func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m, func(p *pgtest.Postgres) int {
		pg = p
		dir, err := os.MkdirTemp("", "jobstatus-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "jobstatus")
		build := exec.Command("go", "build", "-o", bin, "github.com/jobstatus/jobstatus/cmd/jobstatus")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build jobstatus: %v\n", err)
			return 1
		}
		return m.Run()
	}))
}

// result is what a command printed and how it ended.
type result struct {
	stdout, stderr string
	code           int
}

// jobstatus runs the binary with env (and nothing else from this process
// but PATH and HOME) and waits for it.
func jobstatus(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("run jobstatus %v: %v", args, err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// jobView is what the job commands print.
type jobView struct {
	ID       string `json:"id"`
	ClientID string `json:"client_id"`
	Status   string `json:"status"`
	ETA      time.Time
	Links    []map[string]string `json:"links"`
	Error    *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func mustJob(t *testing.T, r result) jobView {
	t.Helper()
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	var j jobView
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j), r.stdout)
	return j
}

// ownPostgres starts a PostgreSQL for one test, one it may stop and
// restart, and removes it when the test ends.
func ownPostgres(t *testing.T) *pgtest.Postgres {
	t.Helper()
	own, err := pgtest.Start(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { _ = own.Terminate() })
	return own
}

// serve starts `jobstatus serve` and waits until it answers; the test's
// cleanup sends SIGTERM and requires a clean exit.
func serve(t *testing.T, env []string, args ...string) *testkit.Process {
	t.Helper()
	return testkit.StartBinary(t, bin, env, args...)
}

// get sends one request to the service and reads the answer.
func get(t *testing.T, svc *testkit.Process, method, path string, header http.Header) testkit.Reply {
	t.Helper()
	return testkit.Do(t, nil, method, svc.URL+path, header, nil)
}

// authEnv is the production configuration: JWKS file, api-key file,
// issuer and audience, all from the environment.
func authEnv(kit *testkit.Kit) []string {
	return []string{
		"JOBSTATUS_AUTH_JWKS_FILE=" + kit.JWKSFile,
		"JOBSTATUS_API_KEYS_FILE=" + kit.KeysFile,
		"JOBSTATUS_AUTH_ISSUER=" + testkit.Issuer,
		"JOBSTATUS_AUTH_AUDIENCE=" + testkit.Audience,
	}
}

var (
	jobPath = testkit.JobPath
	creds   = testkit.Auth
)
