package httpapi_test

import (
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/jobstatus/jobstatus/adapters/apikey"
	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/jobcache"
	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/adapters/metrics"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// overheadBundle is one poll of a finished job as the service serves it,
// with the parts a variant may switch off.
type overheadBundle struct {
	app     *app.Application
	request *nethttp.Request
	creds   app.Credentials
}

func setupOverhead(b *testing.B, tokenCache int) *overheadBundle {
	b.Helper()
	kit := testkit.New(b)
	verifier, err := jwtauth.NewVerifier(jwtauth.Config{Issuer: testkit.Issuer, Audience: testkit.Audience,
		JWKSFile: kit.JWKSFile, CacheSize: tokenCache}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { verifier.Close() })
	clients, err := apikey.Load(kit.KeysFile)
	if err != nil {
		b.Fatal(err)
	}
	repo, err := jobcache.New(memory.NewJobs(), 1000)
	if err != nil {
		b.Fatal(err)
	}
	a := app.New(app.Deps{Jobs: repo, Tokens: verifier, Clients: clients, Clock: ports.ClockFunc(time.Now)})
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
// process (no socket): the whole handler for a finished job with a cached
// token, then the same without access logging and without metrics (the
// differences are their cost), then routing and authentication alone.
// `make bench` prints the differences (scripts/bench/overhead.sh); the
// sub-benchmark names stay the same whatever implements each part.
func BenchmarkOverhead(b *testing.B) {
	handlers := []struct {
		name    string
		logger  func() *zap.Logger
		metrics bool
	}{
		{"handler=full", accessLogger, true},
		{"handler=no-access-log", zap.NewNop, true},
		{"handler=no-metrics", accessLogger, false},
		{"handler=neither", zap.NewNop, false},
	}
	for _, tc := range handlers {
		b.Run(tc.name, func(b *testing.B) {
			bundle := setupOverhead(b, 1000)
			var obs httpapi.Observer = httpapi.NopObserver{}
			if tc.metrics {
				obs = metrics.New()
			}
			h := httpapi.NewHandler(bundle.app, tc.logger(), httpapi.DefaultHandlerConfig(), obs)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, bundle.request)
				if w.Code != nethttp.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}

	b.Run("part=routing", func(b *testing.B) {
		// The router as NewHandler configures it, reaching a handler that
		// only reads the path variable.
		r := mux.NewRouter()
		r.SkipClean(true)
		r.UseEncodedPath()
		var id string
		r.HandleFunc(httpapi.JobPath, func(_ nethttp.ResponseWriter, r *nethttp.Request) {
			id = mux.Vars(r)["asyncJobId"]
		}).Methods(nethttp.MethodGet, nethttp.MethodHead)
		r.HandleFunc(httpapi.OpenAPIPath, func(nethttp.ResponseWriter, *nethttp.Request) {}).Methods(nethttp.MethodGet)
		req := httptest.NewRequest(nethttp.MethodGet, "/patients/composition/job/"+domain.NewID().String(), nil)
		w := httptest.NewRecorder()
		b.ReportAllocs()
		for b.Loop() {
			r.ServeHTTP(w, req)
		}
		if id == "" {
			b.Fatal("route not matched")
		}
	})

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
