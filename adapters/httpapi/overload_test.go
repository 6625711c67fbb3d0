package httpapi_test

import (
	"context"
	"net"
	nethttp "net/http"
	"strconv"
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
	"github.com/jobstatus/jobstatus/adapters/ratelimit"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// blockingRepo holds every Get until released.
type blockingRepo struct {
	ports.JobRepository
	entered chan struct{}
	release chan struct{}
}

func (b *blockingRepo) Get(ctx context.Context, id domain.ID) (domain.Job, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.JobRepository.Get(ctx, id)
}

// serveWith starts the public API on loopback with the given pieces; edits
// change the server's limits.
func serveWith(t *testing.T, repo ports.JobRepository, limits ports.RateLimiter, cfg httpapi.HandlerConfig,
	edits ...func(*httpapi.ServerConfig)) (string, *testkit.Kit, domain.Job) {
	t.Helper()
	kit := testkit.New(t)
	verifier, err := jwtauth.NewVerifier(jwtauth.Config{Issuer: testkit.Issuer, Audience: testkit.Audience, Algorithms: jwtauth.DefaultAlgorithms, JWKSFile: kit.JWKSFile, CacheSize: 100}, nil)
	require.NoError(t, err)
	t.Cleanup(verifier.Close)
	clients, err := apikey.Load(kit.KeysFile)
	require.NoError(t, err)
	a := newUseCases(t, repo, verifier, clients, limits, nil)
	job, err := a.CreateJob.Handle(context.Background(), app.CreateJob{ClientID: testkit.ClientA})
	require.NoError(t, err)
	base := testkit.StartServer(t, httpapi.NewHandler(a.Public, zap.NewNop(), cfg, httpapi.NopObserver{}), zap.NewNop(), edits...)
	return base, kit, job
}

func get(t *testing.T, url string, h nethttp.Header) response {
	t.Helper()
	return testkit.Do(t, nil, "GET", url, h, nil)
}

func TestPerClientRateLimit(t *testing.T) {
	t.Parallel()
	limits, err := ratelimit.New(ratelimit.Limit{RPS: 0.5, Burst: 2}, nil)
	require.NoError(t, err)
	base, kit, job := serveWith(t, memory.NewJobs(), limits, httpapi.DefaultHandlerConfig())
	url := base + jobPath(job.ID)
	a := testkit.Auth(kit.Token(testkit.ClientA), testkit.KeyA)
	require.Equal(t, 200, get(t, url, a).Status)
	require.Equal(t, 200, get(t, url, a).Status)
	r := get(t, url, a)
	requireError(t, r, 429, "too_many_requests", "Rate limit exceeded, retry later")
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, secs, 1)
	require.LessOrEqual(t, secs, 2)

	// Another client has its own bucket; an unknown key is refused before any bucket.
	b := testkit.Auth(kit.Token(testkit.ClientB), testkit.KeyB)
	require.Equal(t, 404, get(t, url, b).Status, "B is not limited by A (and does not see A's job)")
	bad := testkit.Auth(kit.Token(testkit.ClientA), "guess")
	requireError(t, get(t, url, bad), 401, "access_denied", "Invalid api-key")
}

func TestInFlightCap(t *testing.T) {
	t.Parallel()
	repo := &blockingRepo{JobRepository: memory.NewJobs(), entered: make(chan struct{}, 10), release: make(chan struct{})}
	cfg := httpapi.DefaultHandlerConfig()
	cfg.MaxInFlight = 2
	base, kit, job := serveWith(t, repo, nil, cfg)
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(repo.release) }) }
	t.Cleanup(release) // runs before the server's cleanup, even if the test fails
	url := base + jobPath(job.ID)
	h := testkit.Auth(kit.Token(testkit.ClientA), testkit.KeyA)

	var wg sync.WaitGroup
	held := make([]int, 2)
	for i := range held {
		wg.Add(1)
		go func() { defer wg.Done(); held[i] = get(t, url, h).Status }()
	}
	<-repo.entered
	<-repo.entered
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := nethttp.NewRequestWithContext(ctx, "GET", url, nil)
	require.NoError(t, err)
	req.Header = h
	res, err := nethttp.DefaultClient.Do(req)
	require.NoError(t, err, "the third request must be refused at once, not queued")
	res.Body.Close()
	r := get(t, url, h) // a fourth, read in full
	require.Equal(t, 503, res.StatusCode)
	requireError(t, r, 503, "service_unavailable", "Service is busy, retry later")
	require.Equal(t, "1", r.Header.Get("Retry-After"))
	require.Less(t, time.Since(start), 2*time.Second, "refused at once, not queued")
	release()
	wg.Wait()
	require.Equal(t, []int{200, 200}, held)
}

// TestSlowHeadersAreCutOff is the slowloris defence: a client that trickles
// its headers loses the connection after ReadHeaderTimeout.
func TestSlowHeadersAreCutOff(t *testing.T) {
	t.Parallel()
	base, _, _ := serveWith(t, memory.NewJobs(), nil, httpapi.DefaultHandlerConfig(),
		func(c *httpapi.ServerConfig) { c.ReadHeaderTimeout = 300 * time.Millisecond })

	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	start := time.Now()
	_, err = conn.Write([]byte("GET /patients/composition/job/x HTTP/1.1\r\nHost: x\r\n"))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	buf := make([]byte, 1)
	for {
		if _, err := conn.Write([]byte("X-Slow: 1\r\n")); err != nil {
			break
		}
		if _, err := conn.Read(buf); err != nil {
			break // closed (EOF or reset): cut off
		}
	}
	require.Less(t, time.Since(start), 3*time.Second, "a trickling client is dropped after the header timeout")
}
