package httpapi_test

import (
	nethttp "net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestOutOfReachIsAnsweredByNetHTTP pins the list docs/security.md gives of what
// net/http refuses before any handler runs: these answers carry no request
// id because no code of the service saw them. A Go upgrade that changes one
// of them fails here, and that list is updated with it.
func TestOutOfReachIsAnsweredByNetHTTP(t *testing.T) {
	t.Parallel()
	h := httpapi.NewAdminHandler(nil, nethttp.NotFoundHandler(), zap.NewNop(), httpapi.NopObserver{})
	addr := strings.TrimPrefix(testkit.StartServer(t, h, zap.NewNop()), "http://")
	tests := []struct {
		name, req string
		status    int
	}{
		{"UnparsableTarget", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"MalformedRequestLine", "GET /healthz\r\nHost: x\r\n\r\n", 400},
		{"UnsupportedVersion", "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 505},
		{"MissingHost", "GET /healthz HTTP/1.1\r\n\r\n", 400},
		{"RepeatedHost", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"BadHeaderName", "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", 400},
		{"NULInHeaderValue", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400},
		{"BadContentLength", "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400},
		{"UnsupportedTransferEncoding", "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"HeadersOverMaxHeaderBytes", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("a", 80<<10) + "\r\n\r\n", 431},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, _ := testkit.Raw(t, addr, tt.req)
			require.Equal(t, tt.status, res.StatusCode)
			require.Empty(t, res.Header.Get("X-Request-ID"), "net/http answered, not the service")
		})
	}
}
