package httpapi_test

import (
	"context"
	"fmt"
	nethttp "net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// served is one listener started on loopback.
type served struct {
	name string
	addr string // host:port
	get  string // a GET route
	post string // a POST route, or a GET one where the listener has none
}

// startListeners starts the public, internal and admin handlers on
// loopback, each behind httpapi.NewServer as the service runs them.
func startListeners(t *testing.T, b *testBundle) []served {
	t.Helper()
	start := func(h nethttp.Handler) string {
		return strings.TrimPrefix(testkit.StartServer(t, h, zap.NewNop()), "http://")
	}
	internal, err := httpapi.NewInternalHandler(b.app.Operator, b.kit.Verifier(t), zap.NewNop(),
		httpapi.InternalConfig{Writers: []string{workerA}, MaxBodyBytes: 1024}, httpapi.NopObserver{})
	require.NoError(t, err)
	checks := []httpapi.Check{{Name: "store", Fn: func(context.Context) (string, error) { return "", nil }}}
	admin := httpapi.NewAdminHandler(checks, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, _ *nethttp.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}), zap.NewNop(), httpapi.NopObserver{})
	return []served{
		{"Public", start(httpapi.NewHandler(b.app.Public, zap.NewNop(), httpapi.DefaultHandlerConfig(), httpapi.NopObserver{})),
			jobPath(b.pending.ID), jobPath(b.pending.ID)},
		{"Internal", start(internal), "/internal/jobs/" + b.pending.ID.String(), "/internal/jobs"},
		{"Admin", start(admin), httpapi.HealthzPath, httpapi.HealthzPath},
	}
}

// TestUntrustedFramingClosesTheConnection: a request whose framing cannot
// be trusted (RFC 9112 sections 6.1, 6.3) is answered, then its connection
// closed, so a request pipelined behind it is never answered; on every
// listener, whatever the method and HTTP version. Requests framed one way
// only keep their connection.
func TestUntrustedFramingClosesTheConnection(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const next = "GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	// outcome is what becomes of a request and the one behind it.
	type outcome int
	const (
		kept    outcome = iota // both answered
		closed                 // the first answered, the connection closed
		refused                // net/http refuses the first and closes; its answer may be lost to a reset, as the unread request is
	)
	type request struct {
		name string
		// raw is a request; %[1]s is the method, %[2]s the path.
		raw     string
		method  string // empty: GET and POST, each on its route
		outcome outcome
	}
	const host = "Host: x\r\n"
	requests := []request{
		// Served by net/http, connection kept: closed by the service.
		{"ContentLengthAndChunked", "%s %s HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "", closed},
		{"ChunkedAndContentLength", "%s %s HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", "", closed},
		{"ContentLengthAndChunkedHead", "%s %s HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HEAD", closed},
		{"ContentLengthAndChunkedDelete", "%s %s HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "DELETE", closed},
		{"ContentLengthAndChunkedOptions", "%s %s HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "OPTIONS", closed},
		{"ContentLengthAndChunkedUpperCase", "%s %s HTTP/1.1\r\n" + host + "CONTENT-LENGTH: 5\r\nTRANSFER-ENCODING: CHUNKED\r\n\r\n0\r\n\r\n", "", closed},
		{"ContentLengthZeroAndChunked", "%s %s HTTP/1.1\r\n" + host + "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "", closed},
		{"ContentLengthAndChunkedHTTP10", "%s %s HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "", closed},
		{"ChunkedOnHTTP10", "%s %s HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n", "", closed},
		{"ObsFold", "%s %s HTTP/1.1\r\n" + host + "X-Note: a\r\n folded\r\n\r\n", "", closed},
		{"ObsFoldTab", "%s %s HTTP/1.1\r\n" + host + "X-Note: a\r\n\tfolded\r\n\r\n", "", closed},
		{"ObsFoldInContentLength", "%s %s HTTP/1.1\r\n" + host + "Content-Length:\r\n 2\r\n\r\n{}", "", closed},
		{"BareLF", "%s %s HTTP/1.1\n" + "Host: x\n\n", "", closed},
		{"BareLFInOneLine", "%s %s HTTP/1.1\r\nHost: x\nX-Note: a\r\n\r\n", "", closed},
		{"RepeatedEqualContentLength", "%s %s HTTP/1.1\r\n" + host + "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", "", closed},
		// Refused by net/http itself (400 or 501 and a close): still so.
		{"DifferingContentLengths", "%s %s HTTP/1.1\r\n" + host + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", "", refused},
		{"ContentLengthList", "%s %s HTTP/1.1\r\n" + host + "Content-Length: 2, 2\r\n\r\n{}", "", refused},
		{"ContentLengthSign", "%s %s HTTP/1.1\r\n" + host + "Content-Length: +2\r\n\r\n{}", "", refused},
		{"ContentLengthEmpty", "%s %s HTTP/1.1\r\n" + host + "Content-Length: \r\n\r\n", "", refused},
		{"GzipOnly", "%s %s HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n{}", "", refused},
		{"GzipThenChunked", "%s %s HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "", refused},
		{"ChunkedThenGzip", "%s %s HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", "", refused},
		{"ChunkedTwice", "%s %s HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "", refused},
		{"Identity", "%s %s HTTP/1.1\r\n" + host + "Transfer-Encoding: identity\r\nContent-Length: 2\r\n\r\n{}", "", refused},
		{"EmptyTransferEncoding", "%s %s HTTP/1.1\r\n" + host + "Transfer-Encoding: \r\n\r\n", "", refused},
		{"SpaceBeforeColon", "%s %s HTTP/1.1\r\n" + host + "Transfer-Encoding : chunked\r\nContent-Length: 2\r\n\r\n{}", "", refused},
		{"BadChunkSize", "%s %s HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", "", refused},
		// Framed one way: the connection stays open.
		{"NoBody", "%s %s HTTP/1.1\r\n" + host + "\r\n", "", kept},
		{"ContentLength", "%s %s HTTP/1.1\r\n" + host + "Content-Length: 2\r\n\r\n{}", "", kept},
		{"ContentLengthZero", "%s %s HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n", "", kept},
		{"ContentLengthLeadingZero", "%s %s HTTP/1.1\r\n" + host + "Content-Length: 02\r\n\r\n{}", "", kept},
		{"Chunked", "%s %s HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", "", kept},
		{"ChunkedAnyCase", "%s %s HTTP/1.1\r\n" + host + "Transfer-Encoding: Chunked\r\n\r\n1\r\n{\r\n1\r\n}\r\n0\r\n\r\n", "", kept},
		{"ChunkedWithExtensionAndTrailer", "%s %s HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n2;a=b\r\n{}\r\n0\r\nX-Sum: 1\r\n\r\n", "", kept},
		{"HTTP10KeepAlive", "%s %s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "", kept},
	}
	for _, l := range startListeners(t, b) {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			for _, r := range requests {
				targets := map[string]string{"GET": l.get, "POST": l.post}
				if r.method != "" {
					targets = map[string]string{r.method: l.get}
				}
				for method, path := range targets {
					t.Run(r.name+"/"+method, func(t *testing.T) {
						t.Parallel()
						answers := testkit.Pipelined(t, l.addr, fmt.Sprintf(r.raw, method, path), next)
						switch r.outcome {
						case kept:
							require.Len(t, answers, 2, "both answered: %v", answers)
						case closed:
							require.Len(t, answers, 1, "answered, then the connection closed: %v", answers)
						case refused:
							require.LessOrEqual(t, len(answers), 1, "the request behind is not answered: %v", answers)
						}
					})
				}
			}
		})
	}
}
