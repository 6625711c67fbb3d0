package testkit

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	nethttp "net/http"
	"strconv"
	"sync"
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
// process that must be told its port before it starts. It picks below the
// kernel's ephemeral range (32768 and up on Linux): a port the kernel hands
// out for port 0 is also what outgoing connections of parallel tests take
// as their local port, so it could be gone before the process binds it.
// Ports this process handed out are not handed out again.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := LoopbackPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// LoopbackPort is FreePort for callers without a testing.TB (a container's
// port chosen in TestMain, the soak driver).
func LoopbackPort() (int, error) {
	for range 1000 {
		port := freePortLow + rand.IntN(freePortHigh-freePortLow)
		if _, taken := handedOut.LoadOrStore(port, true); taken {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		_ = ln.Close()
		return port, nil
	}
	return 0, errors.New("no free loopback port below the ephemeral range")
}

// The range FreePort picks from, below the ephemeral ports.
const freePortLow, freePortHigh = 20000, 32000

var handedOut sync.Map
