package bootstrap_test

import (
	"bytes"
	"context"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/bootstrap"
)

// TestWatchSaysWhyItReconnects: each reconnect is one stderr line naming
// why, the final refusal one line with one "jobstatus:" prefix, and no
// line carries a credential.
func TestWatchSaysWhyItReconnects(t *testing.T) {
	t.Parallel()
	const token, key = "tok.secret.sig", "key-secret-42"
	var calls atomic.Int32
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		switch calls.Add(1) {
		case 1: // a stream the service ends at once, as for an expired token
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write([]byte("retry: 1\n\n: token expired\n\n"))
		case 2:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(nethttp.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"meta":{"status":503},"error":{"type":"unavailable","message":"Service unavailable"}}`))
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(nethttp.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"meta":{"status":401},"error":{"type":"access_denied","message":"Invalid access token"}}`))
		}
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	tokenFile, keyFile := filepath.Join(dir, "token"), filepath.Join(dir, "key")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token), 0o600))
	require.NoError(t, os.WriteFile(keyFile, []byte(key), 0o600))

	var stdout, stderr bytes.Buffer
	code := bootstrap.Execute(context.Background(), []string{"watch", "--url", srv.URL, "--token-file", tokenFile, "--api-key-file", keyFile},
		bootstrap.IO{Stdout: &stdout, Stderr: &stderr})
	require.Equal(t, 1, code, stderr.String())
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	require.Equal(t, []string{
		"jobstatus: watch: reconnecting (attempt 1): the service ended the stream",
		"jobstatus: watch: reconnecting (attempt 2): the service answered 503 unavailable: Service unavailable",
		"jobstatus: the service answered 401 access_denied: Invalid access token",
	}, lines)
	require.NotContains(t, stderr.String(), "secret")
	require.Empty(t, stdout.String())
}
