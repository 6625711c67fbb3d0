package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	nethttp "net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/api"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestResponsesMatchOpenAPI sends real requests and validates every answer
// against api/openapi.yaml: status documented, headers and body as declared.
func TestResponsesMatchOpenAPI(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t, api.OpenAPI)

	b := setup(t)
	good := b.auth(testkit.ClientA, testkit.KeyA)
	etag := b.do(t, "GET", jobPath(b.done.ID), good, nil).Header.Get("ETag")
	require.NotEmpty(t, etag)
	with := func(name, value string) nethttp.Header {
		h := good.Clone()
		h.Set(name, value)
		return h
	}
	noScope := testkit.Claims(testkit.ClientA)
	noScope["scope"] = "composition:create"
	requests := []struct {
		name   string
		method string
		path   string
		header nethttp.Header
		status int
		fault  error
	}{
		{"200Pending", "GET", jobPath(b.pending.ID), good, 200, nil},
		{"200Done", "GET", jobPath(b.done.ID), good, 200, nil},
		{"200Failed", "GET", jobPath(b.failed.ID), good, 200, nil},
		{"200Held", "GET", jobPath(b.pending.ID), with("Prefer", "wait=1"), 200, nil},
		{"200Head", "HEAD", jobPath(b.pending.ID), good, 200, nil},
		{"304", "GET", jobPath(b.done.ID), with("If-None-Match", etag), 304, nil},
		{"304Head", "HEAD", jobPath(b.done.ID), with("If-None-Match", strings.TrimPrefix(etag, "W/")), 304, nil}, // weak comparison
		{"400", "GET", jobPath("nope"), good, 400, nil},
		{"401", "GET", jobPath(b.pending.ID), nethttp.Header{}, 401, nil},
		{"403", "GET", jobPath(b.pending.ID), nethttp.Header{"Authorization": {"Bearer " + b.kit.Sign(b.kit.Header(), noScope)}, "Api-Key": {testkit.KeyA}}, 403, nil},
		{"404", "GET", jobPath(domain.NewID()), good, 404, nil},
		{"405", "PATCH", jobPath(b.pending.ID), good, 405, nil},
		{"431", "GET", jobPath(b.pending.ID), nethttp.Header{"X-Pad": {strings.Repeat("x", 17<<10)}}, 431, nil},
		{"500", "GET", jobPath(b.pending.ID), good, 500, errors.New("boom")},
		{"503", "GET", jobPath(b.pending.ID), good, 503, domain.ErrUnavailable},
	}
	for _, rq := range requests {
		t.Run(rq.name, func(t *testing.T) {
			// Not parallel: some cases switch the shared repository's fault.
			b.repo.err = rq.fault
			defer func() { b.repo.err = nil }()
			r := b.do(t, rq.method, rq.path, rq.header, nil)
			require.Equal(t, rq.status, r.Status, string(r.Raw))

			requireMatchesOpenAPI(t, doc, rq.method, rq.path, r)
			requireHeadersDocumented(t, doc, rq.method, r)
		})
	}
}

// TestOpenAPIServerIsNotLoopback: the document is read by clients
// elsewhere; a loopback server sends their tools to themselves.
func TestOpenAPIServerIsNotLoopback(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t, api.OpenAPI)
	require.NotEmpty(t, doc.Servers)
	for _, srv := range doc.Servers {
		u, err := url.Parse(srv.URL)
		require.NoError(t, err)
		require.True(t, u.Host == "" || strings.Contains(srv.URL, "{"), "server %q: relative or templated", srv.URL)
	}
}

// documentedHeaders are the response headers whose presence
// requireHeadersDocumented checks against the document.
var documentedHeaders = []string{"X-Request-ID", "Cache-Control", "ETag", "Retry-After", "Preference-Applied",
	"X-Content-Type-Options", "WWW-Authenticate", "Allow"}

// requireHeadersDocumented: every header of documentedHeaders that the
// answer carries is declared for its status, and every header the document
// marks required is there. A HEAD status described "As GET." is checked
// against GET's, as is any method the path does not have.
func requireHeadersDocumented(t *testing.T, doc *openapi3.T, method string, r response) {
	t.Helper()
	item := doc.Paths.Find(httpapi.JobPath)
	require.NotNil(t, item)
	op := item.GetOperation(method)
	if op == nil { // a method the path does not have: its 405 is GET's
		op = item.Get
	}
	resp := op.Responses.Status(r.Status)
	require.NotNil(t, resp, "status %d of %s is documented", r.Status, method)
	if len(resp.Value.Headers) == 0 && method == nethttp.MethodHead {
		resp = item.Get.Responses.Status(r.Status)
	}
	declared := resp.Value.Headers
	for _, name := range documentedHeaders {
		if r.Header.Get(name) != "" {
			require.Contains(t, declared, name, "%s %d sends %s: the document must declare it", method, r.Status, name)
		}
	}
	for name, h := range declared {
		if h.Value.Required {
			require.NotEmpty(t, r.Header.Get(name), "%s %d: the document says %s is always sent", method, r.Status, name)
		}
	}
}

// loadOpenAPI parses and validates an OpenAPI document.
func loadOpenAPI(t *testing.T, data []byte) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(data)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	return doc
}

// requireMatchesOpenAPI validates a real answer to method path against doc:
// status documented, headers and body as declared. Answers on routes or
// methods the document does not list must still be an ErrorEnvelope.
func requireMatchesOpenAPI(t *testing.T, doc *openapi3.T, method, path string, r response) {
	t.Helper()
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	base := strings.TrimSuffix(doc.Servers[0].URL, "/")
	if strings.HasPrefix(base, "/") || base == "" {
		base = "http://jobstatus.example" + base // a relative server: any host
	}
	req, err := nethttp.NewRequest(method, base+path, nil)
	require.NoError(t, err)
	route, params, err := router.FindRoute(req)
	if err != nil {
		var body any
		require.NoError(t, json.Unmarshal(r.Raw, &body))
		require.NoError(t, doc.Components.Schemas["ErrorEnvelope"].Value.VisitJSON(body))
		return
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
		Status:                 r.Status,
		Header:                 r.Header,
		Body:                   io.NopCloser(bytes.NewReader(r.Raw)),
		Options:                opts,
	}
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), in))
}
