package httpapi_test

import (
	"context"
	nethttp "net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/apikey"
	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// BenchmarkGetFinishedJob is the hot path in process: routing, api-key,
// cached token, cached finished job, ETag and JSON, with logging on.
func BenchmarkGetFinishedJob(b *testing.B) {
	benchFinishedJob(b, httpapi.DefaultHandlerConfig())
}

// BenchmarkTracing is the same hot path with tracing off (no provider, as
// serve runs without OTEL_TRACES_EXPORTER), with the API's no-op provider,
// and with the SDK sampling every request into a discarding exporter:
// off and no-op cost nothing (no middleware, no span, no allocation).
func BenchmarkTracing(b *testing.B) {
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
	for _, bc := range []struct {
		name string
		tp   trace.TracerProvider
	}{{"Off", nil}, {"NoopProvider", noop.NewTracerProvider()}, {"SDKSampled", sdk}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := httpapi.DefaultHandlerConfig()
			cfg.Tracer = bc.tp
			benchFinishedJob(b, cfg)
		})
	}
}

func benchFinishedJob(b *testing.B, cfg httpapi.HandlerConfig) {
	kit := testkit.New(b)
	verifier, err := jwtauth.NewVerifier(jwtauth.Config{Issuer: testkit.Issuer, Audience: testkit.Audience, Algorithms: jwtauth.DefaultAlgorithms, JWKSFile: kit.JWKSFile, CacheSize: 1000}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer verifier.Close()
	clients, err := apikey.Load(kit.KeysFile)
	if err != nil {
		b.Fatal(err)
	}
	repo := testkit.ReadModel(b, memory.NewJobs())
	a := newUseCases(b, repo, verifier, clients, nil, nil)
	j, err := a.CreateJob.Handle(b.Context(), app.CreateJob{ClientID: testkit.ClientA})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := a.CompleteJob.Handle(b.Context(), app.CompleteJob{ID: j.ID.String(),
		Links: []domain.Link{{Entity: "composition", Href: "/patients/p/encounter/e/composition/c"}}}); err != nil {
		b.Fatal(err)
	}
	h := httpapi.NewHandler(a.Public, zap.NewNop(), cfg, httpapi.NopObserver{})
	req := httptest.NewRequest("GET", "/patients/composition/job/"+j.ID.String(), nil)
	req.Header.Set("Authorization", "Bearer "+kit.Token(testkit.ClientA))
	req.Header.Set("api-key", testkit.KeyA)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != nethttp.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}
