package httpapi_test

import (
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/jobstatus/jobstatus/adapters/apikey"
	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/adapters/metrics"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// overheadBundle is one poll of a finished job as the service serves it,
// with the parts a variant may switch off.
type overheadBundle struct {
	app     testkit.UseCases
	request *nethttp.Request
	creds   app.Credentials
}

func setupOverhead(b *testing.B, tokenCache int) *overheadBundle {
	b.Helper()
	kit := testkit.New(b)
	verifier, err := jwtauth.NewVerifier(jwtauth.Config{Issuer: testkit.Issuer, Audience: testkit.Audience,
		Algorithms: jwtauth.DefaultAlgorithms, JWKSFile: kit.JWKSFile, CacheSize: tokenCache}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { verifier.Close() })
	clients, err := apikey.Load(kit.KeysFile)
	if err != nil {
		b.Fatal(err)
	}
	repo := testkit.ReadModel(b, memory.NewJobs())
	a := testkit.NewUseCases(b, repo, verifier, clients, nil, nil)
	j, err := a.CreateJob.Handle(b.Context(), app.CreateJob{ClientID: testkit.ClientA})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := a.CompleteJob.Handle(b.Context(), app.CompleteJob{ID: j.ID.String(),
		Links: []domain.Link{{Entity: "composition", Href: "/patients/p/encounter/e/composition/c"}}}); err != nil {
		b.Fatal(err)
	}
	// The service's production token: RS256, like the load run's.
	token := kit.Sign(map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": kit.RSAKID}, testkit.Claims(testkit.ClientA))
	req := httptest.NewRequest(nethttp.MethodGet, "/patients/composition/job/"+j.ID.String(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("api-key", testkit.KeyA)
	return &overheadBundle{app: a, request: req, creds: app.Credentials{Token: token, APIKey: testkit.KeyA}}
}

// accessLogger writes JSON lines at info level, like the service, to
// nowhere: what is measured is building and encoding the line.
func accessLogger() *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey, enc.EncodeTime = "ts", zapcore.ISO8601TimeEncoder
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(io.Discard)), zap.InfoLevel))
}

// BenchmarkOverhead is what each part of a poll costs per request, in
// process (no socket), for a finished job with a cached token:
//
//   - handler: the whole handler as the service runs it;
//   - access-log and metrics: that handler against the same handler
//     without the part, served alternately in one loop so a busy machine
//     slows both alike; extra-ns/req is the difference;
//   - dispatch: the handler routed by gorilla/mux minus the handler routed
//     by its table, served alternately (what the table saves);
//   - routing and authentication: the part alone.
//
// `make bench` prints the figures (scripts/bench/overhead.sh); the
// sub-benchmark names stay the same whatever implements each part.
func BenchmarkOverhead(b *testing.B) {
	b.Run("part=handler", func(b *testing.B) {
		bundle := setupOverhead(b, 1000)
		h := httpapi.NewHandler(bundle.app.Public, accessLogger(), httpapi.DefaultHandlerConfig(), metrics.New())
		b.ReportAllocs()
		for b.Loop() {
			serveOK(b, h, bundle.request)
		}
	})
	for _, tc := range []struct {
		name        string
		without     func() *zap.Logger
		keepMetrics bool
	}{
		{"part=access-log", zap.NewNop, true},
		{"part=metrics", accessLogger, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			bundle := setupOverhead(b, 1000)
			full := httpapi.NewHandler(bundle.app.Public, accessLogger(), httpapi.DefaultHandlerConfig(), metrics.New())
			var obs httpapi.Observer = httpapi.NopObserver{}
			if tc.keepMetrics {
				obs = metrics.New()
			}
			without := httpapi.NewHandler(bundle.app.Public, tc.without(), httpapi.DefaultHandlerConfig(), obs)
			extraPerRequest(b, full, without, bundle.request)
		})
	}

	// Dispatch: the whole handler routed by gorilla/mux (configured as the
	// other listeners') minus the same handler routed by its table, served
	// alternately; docs/architecture.md has the figure that chose the table.
	b.Run("part=dispatch", func(b *testing.B) {
		bundle := setupOverhead(b, 1000)
		table := httpapi.NewHandler(bundle.app.Public, accessLogger(), httpapi.DefaultHandlerConfig(), metrics.New())
		byMux := httpapi.NewMuxReferenceHandler(bundle.app.Public, accessLogger(), httpapi.DefaultHandlerConfig(), metrics.New())
		extraPerRequest(b, byMux, table, bundle.request)
	})

	// Routing alone: the public API's table, and gorilla/mux as the other
	// listeners configure it, on the same routes and the same poll.
	for _, tc := range []struct {
		name  string
		route func(read nethttp.HandlerFunc) nethttp.Handler
	}{{"part=routing", httpapi.PublicTable}, {"part=routing-mux", httpapi.PublicMux}} {
		b.Run(tc.name, func(b *testing.B) {
			var id string
			h := tc.route(func(_ nethttp.ResponseWriter, r *nethttp.Request) { id = httpapi.StatusJobID(r) })
			req := httptest.NewRequest(nethttp.MethodGet, "/patients/composition/job/"+domain.NewID().String(), nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
			if id == "" {
				b.Fatal("route not matched")
			}
		})
	}

	for _, tc := range []struct {
		name  string
		cache int
	}{
		{"part=authentication-cached-token", 1000},
		{"part=authentication-RS256-verify", 0},
	} {
		b.Run(tc.name, func(b *testing.B) {
			bundle := setupOverhead(b, tc.cache)
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bundle.app.Authenticate.Handle(ctx, bundle.creds); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// extraPerRequest serves req alternately by more and by less, so a busy
// machine slows both alike, and reports what more takes longer per
// request as extra-ns/req.
func extraPerRequest(b *testing.B, more, less nethttp.Handler, req *nethttp.Request) {
	var withMore, withLess time.Duration
	odd := false
	for b.Loop() {
		first, second := more, less
		if odd {
			first, second = less, more
		}
		t0 := time.Now()
		serveOK(b, first, req)
		t1 := time.Now()
		serveOK(b, second, req)
		t2 := time.Now()
		if odd {
			withMore, withLess = withMore+t2.Sub(t1), withLess+t1.Sub(t0)
		} else {
			withMore, withLess = withMore+t1.Sub(t0), withLess+t2.Sub(t1)
		}
		odd = !odd
	}
	b.ReportMetric(float64(withMore-withLess)/float64(b.N), "extra-ns/req")
}

func serveOK(b *testing.B, h nethttp.Handler, req *nethttp.Request) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != nethttp.StatusOK {
		b.Fatalf("status %d", w.Code)
	}
}
