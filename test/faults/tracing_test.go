package faults

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/bootstrap"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestOneTracedRequest runs the serve graph on PostgreSQL with an
// in-memory span exporter in place of the OTEL_* one: one request with a
// W3C traceparent gives a server span continuing that trace, the use-case
// spans inside it, and a span per database query inside those.
//
// Not parallel: the other tests of this package check for leaked
// goroutines, and run after this one has stopped its graph.
func TestOneTracedRequest(t *testing.T) {
	pgtest.Skip(t, pg)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	kit := testkit.New(t)
	cfg := bootstrap.DefaultConfig()
	// Port 0: the server picks a free port itself, so no other test can
	// take it between choosing and binding.
	cfg.HTTP.Addr, cfg.AdminAddr, cfg.Internal.Addr = "127.0.0.1:0", "", ""
	cfg.Database.URL = pg.Schema(t)
	cfg.Auth.JWKSFile, cfg.Auth.Issuer, cfg.Auth.Audience, cfg.APIKeysFile = kit.JWKSFile, testkit.Issuer, testkit.Audience, kit.KeysFile
	var operator *app.Operator
	var srv *httpapi.Server
	a := fx.New(bootstrap.ServeOptions(cfg, zap.NewNop()),
		fx.Decorate(func(trace.TracerProvider) trace.TracerProvider { return tp }),
		fx.Populate(&operator, &srv), fx.NopLogger)
	require.NoError(t, a.Err())
	require.NoError(t, a.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, a.Stop(ctx))
	})
	job, err := operator.CreateJob.Handle(context.Background(), app.CreateJob{ClientID: testkit.ClientA, ETA: time.Minute})
	require.NoError(t, err)
	exp.Reset()

	h := testkit.Auth(kit.Token(testkit.ClientA), testkit.KeyA)
	h.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	// The read model answers jobs it has seen from memory: ask for one it
	// has not, so the lookup reaches PostgreSQL and makes a query span.
	r := testkit.Do(t, nil, http.MethodGet, "http://"+srv.Addr().String()+testkit.JobPath(domain.NewID()), h, nil)
	require.Equal(t, 404, r.Status, string(r.Raw))
	r = testkit.Do(t, nil, http.MethodGet, "http://"+srv.Addr().String()+testkit.JobPath(job.ID), h, nil)
	require.Equal(t, 200, r.Status, string(r.Raw))

	var spans tracetest.SpanStubs
	testkit.Eventually(t, 5*time.Second, func() bool {
		spans = exp.GetSpans()
		for _, s := range spans {
			if s.SpanKind == trace.SpanKindServer {
				return true
			}
		}
		return false
	}, "no server span")
	byID := map[trace.SpanID]tracetest.SpanStub{}
	var server tracetest.SpanStub
	for _, s := range spans {
		byID[s.SpanContext.SpanID()] = s
		require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", s.SpanContext.TraceID().String(), "one trace: %s", s.Name)
		if s.SpanKind == trace.SpanKindServer {
			server = s
		}
	}
	require.Equal(t, "GET /patients/composition/job/{asyncJobId}", server.Name)
	var useCase, query bool
	for _, s := range spans {
		parent := byID[s.Parent.SpanID()]
		t.Logf("span %-45q kind=%-8s parent=%q", s.Name, s.SpanKind, parent.Name)
		useCase = useCase || (s.Name == "GetJobStatus" && parent.Name == server.Name)
		query = query || (s.SpanKind == trace.SpanKindClient && parent.Name == "GetJobStatus")
	}
	require.True(t, useCase, "use-case span under the server span")
	require.True(t, query, "database query span under the use case")
}
