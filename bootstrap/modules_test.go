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

func TestServeDevPrintsWorkingCurlLines(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &testkit.LockedBuffer{}, &testkit.LockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- bootstrap.Execute(ctx, []string{"serve", "--dev"}, bootstrap.IO{
			Stdout: stdout, Stderr: stderr, Environ: []string{"JOBSTATUS_HTTP_ADDR=127.0.0.1:0", "JOBSTATUS_ADMIN_ADDR=127.0.0.1:0"},
		})
	}()
	curl := regexp.MustCompile(`curl -i '([^']+)' -H 'Authorization: ([^']+)' -H 'api-key: ([^']+)'`)
	deadline := time.Now().Add(10 * time.Second)
	var lines [][]string
	for time.Now().Before(deadline) {
		if lines = curl.FindAllStringSubmatch(stdout.String(), -1); len(lines) == 4 {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve --dev exited with %d: %s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	require.Len(t, lines, 4, "stdout: %s", stdout.String())

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
	require.True(t, strings.Contains(stdout.String(), "# PENDING") && strings.Contains(stdout.String(), "# DONE") &&
		strings.Contains(stdout.String(), "# FAILED"))

	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatal("serve --dev did not stop")
	}
	// The logs never carry the api-key or the token.
	m := lines[0]
	require.NotContains(t, stderr.String(), m[3])
	require.NotContains(t, stderr.String(), strings.TrimPrefix(m[2], "Bearer "))
}

func TestServeRefusesWithoutAuth(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	code := bootstrap.Execute(context.Background(), []string{"serve"}, bootstrap.IO{
		Stdout: io.Discard, Stderr: &stderr, Environ: []string{"JOBSTATUS_HTTP_ADDR=127.0.0.1:0", "JOBSTATUS_ADMIN_ADDR=127.0.0.1:0"},
	})
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), "no auth configuration")
}

func TestTokenAndKeygenCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := bootstrap.Execute(context.Background(), []string{"keygen", "--key-out", dir + "/k.pem", "--jwks-out", dir + "/jwks.json"},
		bootstrap.IO{Stdout: &out, Stderr: &errOut})
	require.Equal(t, 0, code, errOut.String())

	out.Reset()
	code = bootstrap.Execute(context.Background(), []string{"token", "--key", dir + "/k.pem", "--client", "mis-alpha", "--ttl", "5m"},
		bootstrap.IO{Stdout: &out, Stderr: &errOut, Environ: []string{"JOBSTATUS_AUTH_ISSUER=i", "JOBSTATUS_AUTH_AUDIENCE=a"}})
	require.Equal(t, 0, code, errOut.String())
	token := strings.TrimSpace(out.String())
	require.Len(t, strings.Split(token, "."), 3)

	errOut.Reset()
	code = bootstrap.Execute(context.Background(), []string{"token", "--key", dir + "/k.pem"}, bootstrap.IO{Stdout: io.Discard, Stderr: &errOut})
	require.Equal(t, 2, code, "a missing flag is a usage error")
	require.Contains(t, errOut.String(), "client")

	code = bootstrap.Execute(context.Background(), []string{"token", "--key", dir + "/k.pem", "--client", "c"}, bootstrap.IO{Stdout: io.Discard, Stderr: &errOut})
	require.Equal(t, 2, code, "issuer and audience are required")
}

func TestJobsCommandsNeedADatabase(t *testing.T) {
	t.Parallel()
	var errOut bytes.Buffer
	code := bootstrap.Execute(context.Background(), []string{"jobs", "create", "--client", "c"}, bootstrap.IO{Stdout: io.Discard, Stderr: &errOut})
	require.Equal(t, 2, code)
	require.Contains(t, errOut.String(), "JOBSTATUS_DATABASE_URL")
}
