package bootstrap_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/bootstrap"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// startServe runs the serve graph with cfg and returns the write API's
// listener; the app stops (and must stop cleanly) when the test ends.
func startServe(t *testing.T, cfg bootstrap.Config) *bootstrap.InternalListener {
	t.Helper()
	var l *bootstrap.InternalListener
	fxApp := fx.New(bootstrap.ServeOptions(cfg, zap.NewNop()), fx.Populate(&l), fx.NopLogger)
	require.NoError(t, fxApp.Err())
	require.NoError(t, fxApp.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, fxApp.Stop(ctx))
	})
	return l
}

// TestInternalListener: serve runs the write API on its own listener with
// the configured writers and body cap, and the same verifier as the public
// API; an empty address runs none.
func TestInternalListener(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	cfg := serveConfig(t)
	cfg.Auth.JWKSFile = kit.JWKSFile
	cfg.Internal.Writers = []string{"worker-sign"}
	cfg.Internal.MaxBodyBytes = 64
	l := startServe(t, cfg)
	require.NotNil(t, l.Addr())
	base := "http://" + l.Addr().String()

	token := func(client, scope string) string {
		c := testkit.Claims(client)
		c["scope"] = scope
		return kit.Sign(kit.Header(), c)
	}
	post := func(t *testing.T, tok, body string) testkit.Reply {
		return testkit.Do(t, nil, http.MethodPost, base+"/internal/jobs",
			http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/json"}}, strings.NewReader(body))
	}
	tests := []struct {
		name       string
		token      string
		body       string
		wantStatus int
		wantType   string
	}{
		{"WriterCreates", token("worker-sign", domain.ScopeCompositionJobWrite), `{"client_id":"mis-alpha"}`, http.StatusCreated, ""},
		{"ReadTokenForbidden", token(testkit.ClientA, domain.ScopeCompositionRead), `{"client_id":"mis-alpha"}`, http.StatusForbidden, "forbidden"},
		{"UnknownWriter", token("worker-other", domain.ScopeCompositionJobWrite), `{"client_id":"mis-alpha"}`, http.StatusUnauthorized, "access_denied"},
		{"BodyOverTheCap", token("worker-sign", domain.ScopeCompositionJobWrite), `{"client_id":"` + strings.Repeat("a", 64) + `"}`, http.StatusRequestEntityTooLarge, "request_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := post(t, tt.token, tt.body)
			require.Equal(t, tt.wantStatus, r.Status, "%s", r.Raw)
			require.Equal(t, tt.wantType, r.ErrorType())
		})
	}

	t.Run("Disabled", func(t *testing.T) {
		t.Parallel()
		off := serveConfig(t)
		off.Internal.Addr = ""
		require.Nil(t, startServe(t, off).Addr())
	})
}

// TestServeDevPrintsWorkingWorkerLines: serve --dev runs the write API on a
// free loopback port with a demo writer, and its printed curl lines create
// a job and complete the pending demo job.
func TestServeDevPrintsWorkingWorkerLines(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &testkit.LockedBuffer{}, &testkit.LockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- bootstrap.Execute(ctx, []string{"serve", "--dev"}, bootstrap.IO{
			Stdout: stdout, Stderr: stderr, Environ: []string{"JOBSTATUS_HTTP_ADDR=127.0.0.1:0", "JOBSTATUS_ADMIN_ADDR=127.0.0.1:0"},
		})
	}()
	curl := regexp.MustCompile(`curl -i -X POST '([^']+)' -H 'Authorization: ([^']+)' -H 'Content-Type: application/json' -d '([^']+)'`)
	var lines [][]string
	testkit.Eventually(t, 10*time.Second, func() bool {
		select {
		case code := <-done:
			t.Fatalf("serve --dev exited with %d: %s", code, stderr.String())
		default:
		}
		lines = curl.FindAllStringSubmatch(stdout.String(), -1)
		return len(lines) == 2
	}, "stdout: %s", stdout)
	require.Regexp(t, `^http://127\.0\.0\.1:\d+/internal/jobs$`, lines[0][1])
	require.NotContains(t, lines[0][1], ":8081", "a free port, so two demos can run")

	for i, want := range []int{http.StatusCreated, http.StatusOK} {
		m := lines[i]
		r := testkit.Do(t, nil, http.MethodPost, m[1], http.Header{"Authorization": {m[2]}, "Content-Type": {"application/json"}}, strings.NewReader(m[3]))
		require.Equal(t, want, r.Status, "%s: %s", m[1], r.Raw)
	}
	require.Contains(t, stdout.String(), "client "+bootstrap.DevWorkerID+", scope "+domain.ScopeCompositionJobWrite)

	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatal("serve --dev did not stop")
	}
	require.NotContains(t, stderr.String(), strings.TrimPrefix(lines[0][2], "Bearer "))
}
