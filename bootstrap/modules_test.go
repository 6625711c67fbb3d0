package bootstrap_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/bootstrap"
	"github.com/jobstatus/jobstatus/cmd/jobstatus/cli"
	"github.com/jobstatus/jobstatus/test/testkit"
)

func TestModuleGraphsValidate(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	cfg := bootstrap.DefaultConfig()
	cfg.Auth.JWKSFile, cfg.Auth.Issuer, cfg.Auth.Audience, cfg.APIKeysFile = kit.JWKSFile, testkit.Issuer, testkit.Audience, kit.KeysFile
	pg := cfg
	pg.Database.URL = "postgres://u:p@127.0.0.1:1/db?sslmode=disable"
	logger := zap.NewNop()
	tests := map[string]fx.Option{
		"ServeMemory":   bootstrap.ServeOptions(cfg, logger),
		"ServePostgres": bootstrap.ServeOptions(pg, logger),
		"ToolPostgres":  bootstrap.ToolOptions(pg, logger),
		"ToolMemory":    bootstrap.ToolOptions(cfg, logger),
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, fx.ValidateApp(opts))
		})
	}
}

// devRun is `serve --dev` running in this process through Execute.
type devRun struct {
	stdout, stderr *testkit.LockedBuffer
	cancel         context.CancelFunc
	done           chan int
}

// startDev runs `serve --dev` on free loopback ports until stop.
func startDev(t *testing.T) *devRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &devRun{stdout: &testkit.LockedBuffer{}, stderr: &testkit.LockedBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() {
		d.done <- cli.Execute(ctx, []string{"serve", "--dev"}, cli.IO{
			Stdout: d.stdout, Stderr: d.stderr, Environ: []string{"JOBSTATUS_HTTP_ADDR=127.0.0.1:0", "JOBSTATUS_ADMIN_ADDR=127.0.0.1:0"},
		})
	}()
	t.Cleanup(cancel)
	return d
}

// lines waits until stdout holds n matches of re and returns them.
func (d *devRun) lines(t *testing.T, re *regexp.Regexp, n int) [][]string {
	t.Helper()
	var lines [][]string
	testkit.Eventually(t, 10*time.Second, func() bool {
		select {
		case code := <-d.done:
			t.Fatalf("serve --dev exited with %d: %s", code, d.stderr.String())
		default:
		}
		lines = re.FindAllStringSubmatch(d.stdout.String(), -1)
		return len(lines) == n
	}, "stdout: %s", d.stdout)
	return lines
}

// stop cancels the run, requires exit status 0 and returns what it logged.
func (d *devRun) stop(t *testing.T) string {
	t.Helper()
	d.cancel()
	select {
	case code := <-d.done:
		require.Equal(t, 0, code, d.stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatal("serve --dev did not stop")
	}
	return d.stderr.String()
}

func TestServeDevPrintsWorkingCurlLines(t *testing.T) {
	t.Parallel()
	dev := startDev(t)
	lines := dev.lines(t, regexp.MustCompile(`curl -i '([^']+)' -H 'Authorization: ([^']+)' -H 'api-key: ([^']+)'`), 4)

	for _, m := range lines {
		req, err := http.NewRequest("GET", m[1], nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", m[2])
		req.Header.Set("api-key", m[3])
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch {
		case strings.Contains(string(body), `"status":"PENDING"`), strings.Contains(string(body), `"status":"DONE"`),
			strings.Contains(string(body), `"status":"FAILED"`):
			require.Equal(t, 200, res.StatusCode)
		default:
			require.Equal(t, 404, res.StatusCode, "the fourth job belongs to another client: %s", body)
		}
	}
	stdout := dev.stdout.String()
	require.True(t, strings.Contains(stdout, "# PENDING") && strings.Contains(stdout, "# DONE") &&
		strings.Contains(stdout, "# FAILED"))

	logged := dev.stop(t)
	// The logs never carry the api-key or the token.
	m := lines[0]
	require.NotContains(t, logged, m[3])
	require.NotContains(t, logged, strings.TrimPrefix(m[2], "Bearer "))
}

func TestServeRefusesWithoutAuth(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	code := cli.Execute(context.Background(), []string{"serve"}, cli.IO{
		Stdout: io.Discard, Stderr: &stderr, Environ: []string{"JOBSTATUS_HTTP_ADDR=127.0.0.1:0", "JOBSTATUS_ADMIN_ADDR=127.0.0.1:0"},
	})
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), "no auth configuration")
}

func TestTokenAndKeygenCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := cli.Execute(context.Background(), []string{"keygen", "--key-out", dir + "/k.pem", "--jwks-out", dir + "/jwks.json"},
		cli.IO{Stdout: &out, Stderr: &errOut})
	require.Equal(t, 0, code, errOut.String())

	out.Reset()
	code = cli.Execute(context.Background(), []string{"token", "--key", dir + "/k.pem", "--client", "mis-alpha", "--ttl", "5m"},
		cli.IO{Stdout: &out, Stderr: &errOut, Environ: []string{"JOBSTATUS_AUTH_ISSUER=i", "JOBSTATUS_AUTH_AUDIENCE=a"}})
	require.Equal(t, 0, code, errOut.String())
	token := strings.TrimSpace(out.String())
	require.Len(t, strings.Split(token, "."), 3)

	errOut.Reset()
	code = cli.Execute(context.Background(), []string{"token", "--key", dir + "/k.pem"}, cli.IO{Stdout: io.Discard, Stderr: &errOut})
	require.Equal(t, 2, code, "a missing flag is a usage error")
	require.Contains(t, errOut.String(), "client")

	code = cli.Execute(context.Background(), []string{"token", "--key", dir + "/k.pem", "--client", "c"}, cli.IO{Stdout: io.Discard, Stderr: &errOut})
	require.Equal(t, 2, code, "issuer and audience are required")
}

// TestJobsCommandsNeedADatabase: a missing database is a missing setting,
// exit 1 like every bad setting.
func TestJobsCommandsNeedADatabase(t *testing.T) {
	t.Parallel()
	var errOut bytes.Buffer
	code := cli.Execute(context.Background(), []string{"jobs", "create", "--client", "c"}, cli.IO{Stdout: io.Discard, Stderr: &errOut})
	require.Equal(t, 1, code)
	require.Contains(t, errOut.String(), "JOBSTATUS_DATABASE_URL")
}
