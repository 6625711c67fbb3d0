package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	nethttp "net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

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
		})
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
	req, err := nethttp.NewRequest(method, doc.Servers[0].URL+path, nil)
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
