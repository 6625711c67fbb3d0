package testkit

import (
	"context"
	"net"
	nethttp "net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
)

// StartServer serves h in this process on a free loopback port, with the
// public listener's limits changed by edits, and returns its base URL
// ("http://127.0.0.1:N"). The server stops when the test ends.
func StartServer(t testing.TB, h nethttp.Handler, logger *zap.Logger, edits ...func(*httpapi.ServerConfig)) string {
	t.Helper()
	cfg := httpapi.DefaultServerConfig()
	cfg.Addr = "127.0.0.1:0"
	for _, edit := range edits {
		edit(&cfg)
	}
	srv := httpapi.NewServer(cfg, h, logger)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	return "http://" + srv.Addr().String()
}

// FreePort returns a loopback port that was free a moment ago, for a
// process that must be told its port before it starts.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
