package httpapi_test

import (
	"context"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/apikey"
	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// routeRecorder keeps the route label of the last request observed.
type routeRecorder struct {
	httpapi.NopObserver
	mu    sync.Mutex
	route string
}

func (o *routeRecorder) ObserveRequest(route, _ string, _ int, _ time.Duration, _ bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.route = route
}

func (o *routeRecorder) last() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.route
}

// TestTableAnswersLikeGorillaMux sends the same requests to the public
// handler as served (its routing table) and to one where gorilla/mux,
// configured as the other listeners', routes the same table: status,
// headers (but Date), body and route label must be the same, for paths
// that are, nearly are and are not routes, every method, with and without
// credentials.
func TestTableAnswersLikeGorillaMux(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	verifier, err := jwtauth.NewVerifier(kit.VerifierConfig(), nil)
	require.NoError(t, err)
	t.Cleanup(verifier.Close)
	clients, err := apikey.Load(kit.KeysFile)
	require.NoError(t, err)
	changes, err := app.NewChanges(100)
	require.NoError(t, err)
	a := newUseCases(t, memory.NewJobs(), verifier, clients, nil, changes)
	ctx := context.Background()
	pending, err := a.CreateJob.Handle(ctx, app.CreateJob{ClientID: testkit.ClientA, ETA: time.Minute})
	require.NoError(t, err)
	done, err := a.CreateJob.Handle(ctx, app.CreateJob{ClientID: testkit.ClientA})
	require.NoError(t, err)
	done, err = a.CompleteJob.Handle(ctx, app.CompleteJob{ID: done.ID.String(),
		Links: []domain.Link{{Entity: "composition", Href: "/patients/p/encounter/e/composition/c"}}})
	require.NoError(t, err)
	other, err := a.CreateJob.Handle(ctx, app.CreateJob{ClientID: testkit.ClientB})
	require.NoError(t, err)

	var tableObs, muxObs routeRecorder
	served := httpapi.NewHandler(a.Public, zap.NewNop(), httpapi.DefaultHandlerConfig(), &tableObs)
	reference := httpapi.NewMuxReferenceHandler(a.Public, zap.NewNop(), httpapi.DefaultHandlerConfig(), &muxObs)

	const prefix = "/patients/composition/job/"
	id, pid := done.ID.String(), pending.ID.String()
	paths := []string{
		prefix + id, prefix + pid, prefix + other.ID.String(), prefix + domain.NewID().String(),
		prefix + strings.ToUpper(id), prefix + "not-a-uuid", prefix + "%61" + id[1:], prefix + id + "%2F",
		prefix + id + "/", prefix + id + "/x", prefix, prefix + "/" + id, "/patients/composition/job//" + id,
		prefix + "../job/" + id, prefix + "./" + id, prefix + id + "?a=b", prefix + id + ";x",
		"/patients/composition/job", "/patients/composition/jobs", // (not the event stream: it stays open)
		"/PATIENTS/composition/job/" + id, "/openapi.yaml", "/openapi.yaml/", "/openapi.yam", "/patients/composition/jobs/",
		"/patients/composition/jobs%2Fevents", "/patients/composition/job%2F" + id, "/", "*",
	}
	methods := []string{nethttp.MethodGet, nethttp.MethodHead, nethttp.MethodPost, nethttp.MethodPut, nethttp.MethodDelete,
		nethttp.MethodOptions, nethttp.MethodPatch, "BREW"}
	headers := map[string]nethttp.Header{
		"none":   {},
		"owner":  testkit.Auth(kit.Token(testkit.ClientA), testkit.KeyA),
		"wrong":  testkit.Auth(kit.Token(testkit.ClientA), testkit.KeyB),
		"etag":   with(testkit.Auth(kit.Token(testkit.ClientA), testkit.KeyA), "If-None-Match", `W/"*"`),
		"prefer": with(testkit.Auth(kit.Token(testkit.ClientA), testkit.KeyA), "Prefer", "wait=0"),
	}
	n := 0
	for _, path := range paths {
		for _, method := range methods {
			for name, h := range headers {
				serve := func(handler nethttp.Handler) *httptest.ResponseRecorder {
					var req *nethttp.Request
					if path == "*" {
						req = httptest.NewRequest(method, "http://example.test/", nil)
						req.URL.Path, req.RequestURI = "*", "*"
					} else {
						req = httptest.NewRequest(method, path, nil)
					}
					for k, v := range h {
						req.Header[k] = v
					}
					req.Header.Set("X-Request-ID", "same-id")
					w := httptest.NewRecorder()
					handler.ServeHTTP(w, req)
					return w
				}
				got, want := serve(served), serve(reference)
				what := method + " " + path + " (" + name + ")"
				require.Equal(t, want.Code, got.Code, what)
				got.Header().Del("Date")
				want.Header().Del("Date")
				require.Equal(t, want.Header(), got.Header(), what)
				require.Equal(t, want.Body.String(), got.Body.String(), what)
				require.Equal(t, muxObs.last(), tableObs.last(), what+": route label")
				n++
			}
		}
	}
	t.Logf("%d requests answered alike", n)
}

// with returns a copy of h with k set to v.
func with(h nethttp.Header, k, v string) nethttp.Header {
	h = h.Clone()
	h.Set(k, v)
	return h
}
