package cli_test

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

	"github.com/jobstatus/jobstatus/cmd/jobstatus/cli"
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
	code := cli.Execute(context.Background(), []string{"watch", "--url", srv.URL, "--token-file", tokenFile, "--api-key-file", keyFile},
		cli.IO{Stdout: &stdout, Stderr: &stderr})
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

// TestWatchRefusesBadInput: what watch could never send — a URL with
// credentials, an event id that is not one, a credential that is not one
// header line or a file that never ends — is bad input (exit 2) before any
// request, never an endless reconnect.
func TestWatchRefusesBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good, twoLines := filepath.Join(dir, "good"), filepath.Join(dir, "two-lines")
	require.NoError(t, os.WriteFile(good, []byte("secret-1"), 0o600))
	require.NoError(t, os.WriteFile(twoLines, []byte("demo\nsecret"), 0o600))
	const url = "http://127.0.0.1:1"
	tests := []struct {
		name string
		argv []string
		want string
	}{
		{"CredentialsInURL", []string{"--url", "http://u:pw@127.0.0.1:1", "--token-file", good, "--api-key-file", good},
			"--url must be an http or https URL without credentials or query"},
		{"LastEventIDNotDigits", []string{"--url", url, "--token-file", good, "--api-key-file", good, "--last-event-id", "-1"},
			"--last-event-id must be an id a stream printed (digits only)"},
		{"LastEventIDHeaderInjection", []string{"--url", url, "--token-file", good, "--api-key-file", good, "--last-event-id", "1\r\nX-Evil: 1"},
			"--last-event-id must be an id a stream printed (digits only)"},
		{"APIKeyOnTwoLines", []string{"--url", url, "--token-file", good, "--api-key-file", twoLines},
			"the api-key must be one line of printable ASCII without spaces"},
		{"EndlessTokenFile", []string{"--url", url, "--token-file", "/dev/zero", "--api-key-file", good},
			"--token-file /dev/zero is larger than 64 KiB: not a credential"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := cli.Execute(context.Background(), append([]string{"watch"}, tt.argv...), cli.IO{Stdout: &stdout, Stderr: &stderr})
			require.Equal(t, 2, code, stderr.String())
			require.Contains(t, stderr.String(), tt.want)
			require.NotContains(t, stderr.String(), "secret")
			require.NotContains(t, stderr.String(), "reconnecting")
		})
	}
}
