package httpapi_test

import (
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
)

// TestPanicAfterAPartialAnswer: a handler that panics once part of its
// answer is written cannot be answered with a 500 any more; the client
// must not be given what was written as if it were the whole answer (a
// 200 whose body ends where the panic came, framed as complete by
// net/http: a Content-Length it computes, or a last chunk). The answer is
// cut off, which the client sees as an error.
func TestPanicAfterAPartialAnswer(t *testing.T) {
	t.Parallel()

	serve := func(t *testing.T, h nethttp.HandlerFunc) string {
		t.Helper()
		srv := httptest.NewServer(httpapi.Edge(h, zap.NewNop()))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	tests := []struct {
		name string
		h    nethttp.HandlerFunc
	}{
		{"WithContentLength", func(w nethttp.ResponseWriter, _ *nethttp.Request) {
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte(`{"status":`))
			panic("boom")
		}},
		{"WithoutContentLength", func(w nethttp.ResponseWriter, _ *nethttp.Request) {
			_, _ = w.Write([]byte(`{"status":`))
			panic("boom")
		}},
		{"WithoutContentLengthFlushed", func(w nethttp.ResponseWriter, _ *nethttp.Request) {
			_, _ = w.Write([]byte(`{"status":`))
			w.(nethttp.Flusher).Flush()
			panic("boom")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := nethttp.Get(serve(t, tt.h))
			if err != nil {
				return // cut off before the status line
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			require.Errorf(t, err, "a partial answer (%d, %q) was delivered as complete", res.StatusCode, body)
		})
	}

	t.Run("BeforeAnyWriteAnswers500", func(t *testing.T) {
		t.Parallel()
		res, err := nethttp.Get(serve(t, func(nethttp.ResponseWriter, *nethttp.Request) { panic("boom") }))
		require.NoError(t, err)
		defer res.Body.Close()
		_, err = io.ReadAll(res.Body)
		require.NoError(t, err)
		require.Equal(t, nethttp.StatusInternalServerError, res.StatusCode)
	})
}
