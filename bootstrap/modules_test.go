package bootstrap_test

import (
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

// devRun is `serve --dev` running in this process (bootstrap.Serve).
type devRun struct {
	stdout, stderr *testkit.LockedBuffer
	cancel         context.CancelFunc
	done           chan error
}

// validate is Config.Validate, as Serve takes it.
func validate(cfg bootstrap.Config, mode bootstrap.Mode) error { return cfg.Validate(mode) }

// startDev runs `serve --dev` on free loopback ports until stop.
func startDev(t *testing.T) *devRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &devRun{stdout: &testkit.LockedBuffer{}, stderr: &testkit.LockedBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		d.done <- bootstrap.Serve(ctx, bootstrap.ServeParams{Dev: true, Stdout: d.stdout, Stderr: d.stderr,
			Environ: []string{"JOBSTATUS_HTTP_ADDR=127.0.0.1:0", "JOBSTATUS_ADMIN_ADDR=127.0.0.1:0"}}, validate)
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
		case err := <-d.done:
			t.Fatalf("serve --dev ended: %v: %s", err, d.stderr.String())
		default:
		}
		lines = re.FindAllStringSubmatch(d.stdout.String(), -1)
		return len(lines) == n
	}, "stdout: %s", d.stdout)
	return lines
}

// stop cancels the run, requires a clean stop and returns what it logged.
func (d *devRun) stop(t *testing.T) string {
	t.Helper()
	d.cancel()
	select {
	case err := <-d.done:
		require.NoError(t, err, d.stderr.String())
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

// TestServeRefusesWithoutAuth: serve without --dev needs the auth settings.
func TestServeRefusesWithoutAuth(t *testing.T) {
	t.Parallel()
	err := bootstrap.Serve(context.Background(), bootstrap.ServeParams{Stdout: io.Discard, Stderr: io.Discard,
		Environ: []string{"JOBSTATUS_HTTP_ADDR=127.0.0.1:0", "JOBSTATUS_ADMIN_ADDR=127.0.0.1:0"}}, validate)
	require.ErrorContains(t, err, "no auth configuration")
}
