package httpapi_test

import (
	"context"
	nethttp "net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/jobstatus/jobstatus/adapters/apikey"
	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/adapters/ratelimit"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// logged is a public API on loopback whose logs are observed.
type logged struct {
	base string
	kit  *testkit.Kit
	job  domain.Job
	logs *observer.ObservedLogs
}

func serveLogged(t *testing.T, limits ports.RateLimiter, cfg httpapi.HandlerConfig) logged {
	t.Helper()
	return serveLoggedThrough(t, limits, cfg, func(c zapcore.Core) zapcore.Core { return c })
}

// serveLoggedThrough is serveLogged with the observed core wrapped by wrap.
func serveLoggedThrough(t *testing.T, limits ports.RateLimiter, cfg httpapi.HandlerConfig, wrap func(zapcore.Core) zapcore.Core) logged {
	t.Helper()
	kit := testkit.New(t)
	verifier, err := jwtauth.NewVerifier(kit.VerifierConfig(), nil)
	require.NoError(t, err)
	t.Cleanup(verifier.Close)
	clients, err := apikey.Load(kit.KeysFile)
	require.NoError(t, err)
	a := newUseCases(t, memory.NewJobs(), verifier, clients, limits, nil)
	job, err := a.CreateJob.Handle(context.Background(), app.CreateJob{ClientID: testkit.ClientA})
	require.NoError(t, err)
	core, logs := observer.New(zap.InfoLevel)
	base := testkit.StartServer(t, httpapi.NewHandler(a.Public, zap.New(wrap(core)), cfg, httpapi.NopObserver{}), zap.NewNop())
	return logged{base: base, kit: kit, job: job, logs: logs}
}

// accessLines waits for n access-log lines and returns them.
func (l logged) accessLines(t *testing.T, n int) []observer.LoggedEntry {
	t.Helper()
	testkit.Eventually(t, 5*time.Second, func() bool { return l.logs.FilterMessage("request").Len() >= n }, "no access-log line")
	return l.logs.FilterMessage("request").All()
}

// TestAccessLogFields: the fields an operator searches by are on every
// line; a generated request id is a valid RFC 9562 UUID (version 4); a
// 429 names the client the limiter refused.
func TestAccessLogFields(t *testing.T) {
	t.Parallel()
	limits, err := ratelimit.New(ratelimit.Limit{RPS: 0.001, Burst: 1}, nil)
	require.NoError(t, err)
	l := serveLogged(t, limits, httpapi.DefaultHandlerConfig())
	h := testkit.Auth(l.kit.Token(testkit.ClientA), testkit.KeyA)
	h.Set("User-Agent", "mis-alpha/2.1")
	require.Equal(t, 200, testkit.Do(t, nil, "GET", l.base+jobPath(l.job.ID), h, nil).Status)
	r := testkit.Do(t, nil, "GET", l.base+jobPath(l.job.ID), h, nil)
	require.Equal(t, 429, r.Status)

	lines := l.accessLines(t, 2)
	require.Len(t, lines, 2)
	for i, want := range []int64{200, 429} {
		f := lines[i].ContextMap()
		require.Equal(t, want, f["status"])
		require.Equal(t, testkit.ClientA, f["client_id"], "status %d names its client", want)
		require.Equal(t, "mis-alpha/2.1", f["user_agent"])
		require.Contains(t, f["remote_addr"], "127.0.0.1:")
		id, err := uuid.Parse(f["request_id"].(string))
		require.NoError(t, err)
		require.Equal(t, uuid.Version(4), id.Version())
		require.Equal(t, uuid.RFC4122, id.Variant())
	}
	require.Equal(t, lines[1].ContextMap()["request_id"], r.Header.Get("X-Request-ID"))
}

// TestAccessLogSampling: successful answers (2xx, 304) are logged one in
// N; errors are never sampled.
func TestAccessLogSampling(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		every         int
		ok, errs      int
		wantOK, wantE int
	}{
		{"EveryLine", 1, 6, 3, 6, 3},
		{"OneInThree", 3, 6, 3, 2, 3},
		{"NoSuccessLines", 0, 6, 3, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := httpapi.DefaultHandlerConfig()
			cfg.LogSampleSuccess = tt.every
			l := serveLogged(t, nil, cfg)
			h := testkit.Auth(l.kit.Token(testkit.ClientA), testkit.KeyA)
			for range tt.ok {
				require.Equal(t, 200, testkit.Do(t, nil, "GET", l.base+jobPath(l.job.ID), h, nil).Status)
			}
			for range tt.errs {
				require.Equal(t, 401, testkit.Do(t, nil, "GET", l.base+jobPath(l.job.ID), nil, nil).Status)
			}
			lines := l.accessLines(t, tt.wantOK+tt.wantE)
			var ok, errs int
			for _, e := range lines {
				if e.ContextMap()["status"] == int64(200) {
					ok++
				} else {
					errs++
				}
			}
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.wantE, errs)
		})
	}
}

// TestTracing: one server span per request continuing the caller's W3C
// traceparent, use-case spans inside it, and the trace and span ids on the
// request's log lines. Without a tracer provider nothing is traced.
func TestTracing(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := trace.NewTracerProvider(trace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	cfg := httpapi.DefaultHandlerConfig()
	cfg.Tracer = tp
	l := serveLogged(t, nil, cfg)
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	h := testkit.Auth(l.kit.Token(testkit.ClientA), testkit.KeyA)
	h.Set("Traceparent", parent)
	require.Equal(t, 200, testkit.Do(t, nil, "GET", l.base+jobPath(l.job.ID), h, nil).Status)

	lines := l.accessLines(t, 1)
	testkit.Eventually(t, 5*time.Second, func() bool { return len(exp.GetSpans()) >= 3 }, "spans not exported")
	spans := exp.GetSpans()
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	server, ok := byName["GET "+httpapi.JobPath]
	require.True(t, ok, "server span named after the route: %v", spans)
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", server.SpanContext.TraceID().String(), "the caller's trace continues")
	require.Equal(t, "00f067aa0ba902b7", server.Parent.SpanID().String())
	for _, uc := range []string{"Authenticate", "GetJobStatus"} {
		s, ok := byName[uc]
		require.True(t, ok, "use-case span %s", uc)
		require.Equal(t, server.SpanContext.SpanID(), s.Parent.SpanID())
	}
	f := lines[0].ContextMap()
	require.Equal(t, server.SpanContext.TraceID().String(), f["trace_id"])
	require.Equal(t, server.SpanContext.SpanID().String(), f["span_id"])

	// Refusals are traced and logged with ids as well.
	require.Equal(t, 401, testkit.Do(t, nil, "GET", l.base+jobPath(l.job.ID), nethttp.Header{"Traceparent": {parent}}, nil).Status)
	testkit.Eventually(t, 5*time.Second, func() bool { return l.logs.FilterMessage("authentication failed").Len() == 1 }, "no auth line")
	require.Contains(t, l.logs.FilterMessage("authentication failed").All()[0].ContextMap(), "trace_id")

	// No tracer: no ids on the lines.
	plain := serveLogged(t, nil, httpapi.DefaultHandlerConfig())
	require.Equal(t, 200, testkit.Do(t, nil, "GET", plain.base+jobPath(plain.job.ID), testkit.Auth(plain.kit.Token(testkit.ClientA), testkit.KeyA), nil).Status)
	require.NotContains(t, plain.accessLines(t, 1)[0].ContextMap(), "trace_id")
}

// heldCore holds every line written through it until release is closed.
type heldCore struct {
	zapcore.Core
	release chan struct{}
}

func (c heldCore) With(f []zapcore.Field) zapcore.Core { return heldCore{c.Core.With(f), c.release} }

func (c heldCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c heldCore) Write(e zapcore.Entry, f []zapcore.Field) error {
	<-c.release
	return c.Core.Write(e, f)
}

// TestAnswerIsSentBeforeItsAccessLogLine: a complete answer reaches the
// client while its access-log line is still being written (here: held), so
// neither the line's encoding nor a wait for the log's lock is part of a
// poll's latency; the line is written all the same.
func TestAnswerIsSentBeforeItsAccessLogLine(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	l := serveLoggedThrough(t, nil, httpapi.DefaultHandlerConfig(), func(c zapcore.Core) zapcore.Core { return heldCore{c, release} })
	t.Cleanup(func() { // before the server's own clean-up, which waits for its handlers
		select {
		case <-release:
		default:
			close(release)
		}
	})
	h := testkit.Auth(l.kit.Token(testkit.ClientA), testkit.KeyA)

	for _, path := range []string{jobPath(l.job.ID), jobPath("6f1c4a1e-0000-4000-8000-000000000000")} {
		// A connection of its own: the held handler still has the first.
		client := &nethttp.Client{Timeout: 5 * time.Second, Transport: &nethttp.Transport{DisableKeepAlives: true}}
		r := testkit.Do(t, client, "GET", l.base+path, h, nil)
		require.Contains(t, []int{200, 404}, r.Status, "the answer came while its log line was held")
		require.NotEmpty(t, r.Body)
	}
	require.Zero(t, l.logs.FilterMessage("request").Len(), "no line was written while held")
	close(release)
	require.Len(t, l.accessLines(t, 2), 2, "the held lines are written")
}
