package bootstrap_test

import (
	"context"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/jobstatus/jobstatus/bootstrap"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/testkit"
)

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
	var l *bootstrap.InternalListener
	startServe(t, cfg, &l)
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
		var l *bootstrap.InternalListener
		startServe(t, off, &l)
		require.Nil(t, l.Addr())
	})
}

// TestWriteAPIListensOnlyWithWriters: with no writers the write API opens
// no listener, even at its default address, and says so in one log line,
// so a second instance on the same host does not collide on its port.
func TestWriteAPIListensOnlyWithWriters(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, addr string, writers []string) (*bootstrap.InternalListener, *observer.ObservedLogs) {
		t.Helper()
		cfg := serveConfig(t)
		cfg.Internal.Addr, cfg.Internal.Writers = addr, writers
		core, logs := observer.New(zapcore.InfoLevel)
		var l *bootstrap.InternalListener
		fxApp := fx.New(bootstrap.ServeOptions(cfg, zap.New(core)), fx.Populate(&l), fx.NopLogger)
		require.NoError(t, fxApp.Err())
		require.NoError(t, fxApp.Start(context.Background()))
		t.Cleanup(func() { require.NoError(t, fxApp.Stop(context.Background())) })
		return l, logs
	}
	offLine := func(logs *observer.ObservedLogs) int {
		return logs.FilterMessageSnippet("write API off").FilterMessageSnippet("JOBSTATUS_INTERNAL_WRITERS is empty").Len()
	}

	t.Run("NoWritersNoListener", func(t *testing.T) {
		t.Parallel()
		addr := freeAddr(t)
		l, logs := setup(t, addr, nil)
		require.Nil(t, l.Addr())
		require.Equal(t, 1, offLine(logs))
		ln, err := net.Listen("tcp", addr) // the port stays free for another instance
		require.NoError(t, err)
		require.NoError(t, ln.Close())
	})
	t.Run("TwoInstancesShareTheDefaultAddress", func(t *testing.T) {
		t.Parallel()
		first, _ := setup(t, bootstrap.DefaultConfig().Internal.Addr, nil)
		second, _ := setup(t, bootstrap.DefaultConfig().Internal.Addr, nil)
		require.Nil(t, first.Addr())
		require.Nil(t, second.Addr())
	})
	t.Run("WritersOpenIt", func(t *testing.T) {
		t.Parallel()
		l, logs := setup(t, "127.0.0.1:0", []string{"worker-sign"})
		require.NotNil(t, l.Addr())
		require.Zero(t, offLine(logs))
	})
	t.Run("NoAddressNoLine", func(t *testing.T) {
		t.Parallel()
		l, logs := setup(t, "", nil)
		require.Nil(t, l.Addr())
		require.Zero(t, offLine(logs))
	})
	t.Run("Rule", func(t *testing.T) {
		t.Parallel()
		require.False(t, bootstrap.WriteAPIListens(bootstrap.DefaultConfig().Internal), "the defaults open no write API")
		require.True(t, bootstrap.WriteAPIListens(bootstrap.InternalConfig{Addr: "127.0.0.1:8081", Writers: []string{"w"}}))
		require.False(t, bootstrap.WriteAPIListens(bootstrap.InternalConfig{Writers: []string{"w"}}))
	})
}

// TestServeDevPrintsWorkingWorkerLines: serve --dev runs the write API on a
// free loopback port with a demo writer, and its printed curl lines create
// a job and complete the pending demo job.
func TestServeDevPrintsWorkingWorkerLines(t *testing.T) {
	t.Parallel()
	dev := startDev(t)
	lines := dev.lines(t, regexp.MustCompile(`curl -i -X POST '([^']+)' -H 'Authorization: ([^']+)' -H 'Content-Type: application/json' -d '([^']+)'`), 2)
	require.Regexp(t, `^http://127\.0\.0\.1:\d+/internal/jobs$`, lines[0][1])
	require.NotContains(t, lines[0][1], ":8081", "a free port, so two demos can run")

	for i, want := range []int{http.StatusCreated, http.StatusOK} {
		m := lines[i]
		r := testkit.Do(t, nil, http.MethodPost, m[1], http.Header{"Authorization": {m[2]}, "Content-Type": {"application/json"}}, strings.NewReader(m[3]))
		require.Equal(t, want, r.Status, "%s: %s", m[1], r.Raw)
	}
	require.Contains(t, dev.stdout.String(), "client "+bootstrap.DevWorkerID+", scope "+domain.ScopeCompositionJobWrite)

	logged := dev.stop(t)
	require.NotContains(t, logged, strings.TrimPrefix(lines[0][2], "Bearer "))
}
