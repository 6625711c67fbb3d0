package client_test

import (
	"context"
	"errors"
	"fmt"
	nethttp "net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/client"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/testkit"
)

const (
	workerA = "worker-sign"
	workerB = "worker-refine"
	href    = "/patients/p1/encounter/e1/composition/c1"
)

// testBundle runs the real public and write API handlers on 127.0.0.1
// over the memory store. Each handler sits behind a gate that a test can
// use to watch requests or to answer some itself.
type testBundle struct {
	kit      *testkit.Kit
	app      testkit.UseCases
	public   *gate
	internal *gate
}

// gate passes requests to the real handler unless intercept answers them,
// and tells arrived about each request first.
type gate struct {
	next      nethttp.Handler
	mu        sync.Mutex
	intercept func(w nethttp.ResponseWriter, r *nethttp.Request) bool
	arrived   func(r *nethttp.Request)
	url       string
}

func (g *gate) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	g.mu.Lock()
	intercept, arrived := g.intercept, g.arrived
	g.mu.Unlock()
	if arrived != nil {
		arrived(r)
	}
	if intercept != nil && intercept(w, r) {
		return
	}
	g.next.ServeHTTP(w, r)
}

func (g *gate) set(arrived func(*nethttp.Request), intercept func(nethttp.ResponseWriter, *nethttp.Request) bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.arrived, g.intercept = arrived, intercept
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	kit := testkit.New(t)
	verifier := kit.Verifier(t)
	clients := kit.Clients(t)
	changes, err := app.NewChanges(100)
	require.NoError(t, err)
	a := testkit.NewUseCases(t, memory.NewJobs(), verifier, clients, nil, changes)
	logger := zap.NewNop()
	internal, err := httpapi.NewInternalHandler(
		a.Operator,
		verifier, logger, httpapi.InternalConfig{Writers: []string{workerA, workerB}, MaxBodyBytes: 4096}, httpapi.NopObserver{})
	require.NoError(t, err)
	b := &testBundle{kit: kit, app: a,
		public:   &gate{next: httpapi.NewHandler(a.Public, logger, httpapi.DefaultHandlerConfig(), httpapi.NopObserver{})},
		internal: &gate{next: internal}}
	for _, g := range []*gate{b.public, b.internal} {
		srv := httptest.NewServer(g) // listens on 127.0.0.1
		t.Cleanup(srv.Close)
		g.url = srv.URL
	}
	return b
}

func (b *testBundle) writeToken(client, scope string) string {
	c := testkit.Claims(client)
	c["scope"] = scope
	return b.kit.Sign(b.kit.Header(), c)
}

// worker is a client of the write API for a writer.
func (b *testBundle) worker(t *testing.T, name string) *client.Client {
	t.Helper()
	c, err := client.New(b.internal.url, client.WithToken(b.writeToken(name, domain.ScopeCompositionJobWrite)))
	require.NoError(t, err)
	return c
}

// mis is a client of the public API for testkit.ClientA.
func (b *testBundle) mis(t *testing.T, opts ...client.Option) *client.Client {
	t.Helper()
	opts = append([]client.Option{client.WithToken(b.kit.Token(testkit.ClientA)), client.WithAPIKey(testkit.KeyA)}, opts...)
	c, err := client.New(b.public.url, opts...)
	require.NoError(t, err)
	return c
}

func (b *testBundle) create(t *testing.T) client.Job {
	t.Helper()
	job, created, err := b.worker(t, workerA).Create(context.Background(), client.CreateParams{ClientID: testkit.ClientA, ETA: time.Minute})
	require.NoError(t, err)
	require.True(t, created)
	return job
}

// fakeClock is what the injected sleep advances instead of sleeping.
type fakeClock struct {
	mu  sync.Mutex
	now time.Duration
}

func (f *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.now += d
	f.mu.Unlock()
	return ctx.Err()
}

func (f *fakeClock) elapsed() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func TestWorkerAndMIS(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	t.Run("CreateCompleteGet", func(t *testing.T) {
		t.Parallel()
		w := b.worker(t, workerA)
		job, created, err := w.Create(ctx, client.CreateParams{ClientID: testkit.ClientA, ETA: 2 * time.Minute, IdempotencyKey: "k-1"})
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, client.StatusPending, job.Status)
		require.Equal(t, []client.Link{}, job.Links)
		again, created, err := w.Create(ctx, client.CreateParams{ClientID: testkit.ClientA, IdempotencyKey: "k-1"})
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, job.ID, again.ID)

		done, err := w.Complete(ctx, job.ID, client.Link{Entity: "composition", Href: href})
		require.NoError(t, err)
		require.Equal(t, client.StatusDone, done.Status)
		got, err := b.mis(t).Get(ctx, job.ID)
		require.NoError(t, err)
		require.Equal(t, done, got)
		anyJob, err := b.worker(t, workerB).GetAny(ctx, job.ID)
		require.NoError(t, err)
		require.Equal(t, done, anyJob)
	})
	t.Run("FailRepeatAndConflict", func(t *testing.T) {
		t.Parallel()
		job := b.create(t)
		failed, err := b.worker(t, workerA).Fail(ctx, job.ID, 422, "Signature is not valid")
		require.NoError(t, err)
		require.Equal(t, &client.Failure{Code: 422, Message: "Signature is not valid"}, failed.Error)
		_, err = b.worker(t, workerB).Fail(ctx, job.ID, 422, "Signature is not valid")
		require.NoError(t, err, "a repeated identical outcome is accepted")
		_, err = b.worker(t, workerB).Complete(ctx, job.ID, client.Link{Entity: "composition", Href: href})
		require.ErrorIs(t, err, client.ErrConflict)
		var e *client.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, client.Error{Status: 409, Type: "conflict", Message: "Job already finished with a different outcome"}, *e)
	})
	t.Run("TypedErrors", func(t *testing.T) {
		t.Parallel()
		job := b.create(t)
		readerOfWrite, err := client.New(b.internal.url, client.WithToken(b.kit.Token(testkit.ClientA)))
		require.NoError(t, err)
		writerOnPublic, err := client.New(b.public.url, client.WithToken(b.writeToken(testkit.ClientA, domain.ScopeCompositionJobWrite)), client.WithAPIKey(testkit.KeyA))
		require.NoError(t, err)
		unknownWorker := b.worker(t, "worker-rogue")
		noToken, err := client.New(b.internal.url)
		require.NoError(t, err)
		for name, c := range map[string]struct {
			call     func() error
			sentinel error
			status   int
			message  string
		}{
			"NotFound": {func() error { _, err := b.mis(t).Get(ctx, domain.NewID().String()); return err }, client.ErrNotFound, 404, "Task not found"},
			"OtherClientsJobIsNotFound": {func() error {
				c, err := client.New(b.public.url, client.WithToken(b.kit.Token(testkit.ClientB)), client.WithAPIKey(testkit.KeyB))
				require.NoError(t, err)
				_, err = c.Get(ctx, job.ID)
				return err
			}, client.ErrNotFound, 404, "Task not found"},
			"BadID":                 {func() error { _, err := b.mis(t).Get(ctx, "nope"); return err }, client.ErrInvalid, 400, "asyncJobId must be a UUID"},
			"IDWithSlashIsEscaped":  {func() error { _, err := b.mis(t).Get(ctx, "../../x"); return err }, client.ErrInvalid, 400, "asyncJobId must be a UUID"},
			"ReadTokenOnWriteAPI":   {func() error { _, err := readerOfWrite.Fail(ctx, job.ID, 1, "m"); return err }, client.ErrForbidden, 403, "Your scope does not allow to access this resource. Missing allowances: composition_job:write"},
			"WriteTokenOnPublicAPI": {func() error { _, err := writerOnPublic.Get(ctx, job.ID); return err }, client.ErrForbidden, 403, "Your scope does not allow to access this resource. Missing allowances: composition:read"},
			"UnknownWorker": {func() error {
				_, _, err := unknownWorker.Create(ctx, client.CreateParams{ClientID: "mis-alpha"})
				return err
			}, client.ErrUnauthorized, 401, "Invalid access token"},
			"NoToken":    {func() error { _, err := noToken.GetAny(ctx, job.ID); return err }, client.ErrUnauthorized, 401, "Invalid access token"},
			"DomainRule": {func() error { _, err := b.worker(t, workerA).Complete(ctx, job.ID); return err }, client.ErrInvalid, 400, "Invalid links: a DONE job needs at least one link"},
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				err := c.call()
				require.ErrorIs(t, err, c.sentinel)
				var e *client.Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, c.status, e.Status)
				require.Equal(t, c.message, e.Message)
				for _, other := range []error{client.ErrInvalid, client.ErrUnauthorized, client.ErrForbidden, client.ErrNotFound, client.ErrConflict, client.ErrUnavailable} {
					if other != c.sentinel {
						require.NotErrorIs(t, err, other)
					}
				}
			})
		}
	})
	t.Run("CredentialsNeverPrinted", func(t *testing.T) {
		t.Parallel()
		token := b.kit.Token(testkit.ClientA)
		c, err := client.New(b.public.url, client.WithToken(token), client.WithAPIKey(testkit.KeyA))
		require.NoError(t, err)
		_, err = c.Get(ctx, domain.NewID().String())
		require.Error(t, err)
		for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", c, c, c, c), err.Error()} {
			require.NotContains(t, s, token)
			require.NotContains(t, s, testkit.KeyA)
		}
	})
}

func TestNewRefusesBadInput(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		url  string
		opts []client.Option
	}{
		"Empty":        {"", nil},
		"NoScheme":     {"127.0.0.1:8080", nil},
		"FTP":          {"ftp://127.0.0.1", nil},
		"Query":        {"http://127.0.0.1?x=1", nil},
		"NegativeWait": {"http://127.0.0.1", []client.Option{client.WithPreferWait(-time.Second)}},
		"ZeroBackoff":  {"http://127.0.0.1", []client.Option{client.WithBackoff(0, time.Second)}},
		"MaxBelowMin":  {"http://127.0.0.1", []client.Option{client.WithBackoff(time.Second, time.Millisecond)}},
		"NilSleep":     {"http://127.0.0.1", []client.Option{client.WithSleep(nil)}},
		// The password must not be echoed in the error.
		"PasswordAndQuery": {"http://u:secretpass@127.0.0.1?x=1", nil},
		"PasswordFTP":      {"ftp://u:secretpass@127.0.0.1", nil},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := client.New(c.url, c.opts...)
			require.Error(t, err)
			require.NotContains(t, err.Error(), "secretpass")
		})
	}
}

// TestStringHidesThePassword: a client describes itself by its base URL,
// with the password of its userinfo masked.
func TestStringHidesThePassword(t *testing.T) {
	t.Parallel()
	c, err := client.New("https://u:secretpass@jobstatus.example")
	require.NoError(t, err)
	require.Equal(t, "jobstatus client for https://u:xxxxx@jobstatus.example", c.String())
}

// TestWait's cases each run their own servers: they hook the gates.
func TestWait(t *testing.T) {
	t.Parallel()

	t.Run("JobFinishedDuringWaitIsReturnedFromTheHeldRequest", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.create(t)
		held := make(chan struct{}, 1)
		var requests int
		var mu sync.Mutex
		b.public.set(func(r *nethttp.Request) {
			if strings.HasSuffix(r.URL.Path, job.ID) {
				mu.Lock()
				requests++
				mu.Unlock()
				select {
				case held <- struct{}{}:
				default:
				}
			}
		}, nil)
		// Any pause would block until the test's deadline: the job must come
		// back from the held request itself.
		mis := b.mis(t, client.WithPreferWait(time.Minute), client.WithSleep(func(ctx context.Context, d time.Duration) error {
			<-ctx.Done()
			return ctx.Err()
		}))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		got := make(chan error, 1)
		var final client.Job
		go func() {
			var err error
			final, err = mis.Wait(ctx, job.ID)
			got <- err
		}()
		<-held
		_, err := b.worker(t, workerA).Complete(context.Background(), job.ID, client.Link{Entity: "composition", Href: href})
		require.NoError(t, err)
		require.NoError(t, <-got)
		require.Equal(t, client.StatusDone, final.Status)
		require.Equal(t, []client.Link{{Entity: "composition", Href: href}}, final.Links)
		mu.Lock()
		require.Equal(t, 1, requests)
		mu.Unlock()
	})

	t.Run("HoldsAgainAtOnceAfterAHeldPendingAnswer", func(t *testing.T) {
		t.Parallel()
		// A held request that comes back PENDING has waited already: the
		// next one is held at once, not after Retry-After (up to 30 s).
		b := setup(t)
		job := b.create(t)
		var (
			mu    sync.Mutex
			polls int
		)
		b.public.set(nil, func(w nethttp.ResponseWriter, r *nethttp.Request) bool {
			if !strings.HasSuffix(r.URL.Path, job.ID) {
				return false
			}
			mu.Lock()
			polls++
			n := polls
			mu.Unlock()
			if n == 2 {
				if _, err := b.app.CompleteJob.Handle(r.Context(), app.CompleteJob{ID: job.ID, Links: []domain.Link{{Entity: "composition", Href: href}}}); err != nil {
					t.Error(err)
				}
				return false
			}
			// The first poll: held, and still PENDING at the end of its wait.
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Preference-Applied", "wait=1")
			w.Header().Set("Retry-After", "30")
			_, _ = w.Write([]byte(`{"data":{"id":"` + job.ID + `","status":"PENDING","eta":"2026-12-07T12:00:00Z","links":[]},"meta":{"code":200}}`))
			return true
		})
		var slept []time.Duration
		mis := b.mis(t, client.WithPreferWait(time.Second), client.WithSleep(func(_ context.Context, d time.Duration) error {
			mu.Lock()
			slept = append(slept, d)
			mu.Unlock()
			return nil
		}))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		final, err := mis.Wait(ctx, job.ID)
		require.NoError(t, err)
		require.Equal(t, client.StatusDone, final.Status)
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, 2, polls)
		require.Empty(t, slept, "no pause after a held PENDING answer")
	})

	t.Run("PollsWithETagAndHonoursRetryAfter", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.create(t)
		clock := &fakeClock{}
		type seen struct {
			at                 time.Duration
			prefer, inm, retry string
		}
		var (
			mu   sync.Mutex
			reqs []seen
			etag string
		)
		id := job.ID
		b.public.set(nil, func(w nethttp.ResponseWriter, r *nethttp.Request) bool {
			if !strings.HasSuffix(r.URL.Path, id) {
				return false
			}
			mu.Lock()
			reqs = append(reqs, seen{at: clock.elapsed(), prefer: r.Header.Get("Prefer"), inm: r.Header.Get("If-None-Match")})
			n := len(reqs)
			mu.Unlock()
			if n == 3 {
				// Third poll: the job has finished meanwhile.
				if _, err := b.app.CompleteJob.Handle(r.Context(), app.CompleteJob{ID: id, Links: []domain.Link{{Entity: "composition", Href: href}}}); err != nil {
					t.Error(err)
				}
			}
			rec := httptest.NewRecorder()
			b.public.next.ServeHTTP(rec, r)
			mu.Lock()
			reqs[n-1].retry = rec.Header().Get("Retry-After")
			if n == 1 {
				etag = rec.Header().Get("ETag")
			}
			mu.Unlock()
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return true
		})
		mis := b.mis(t, client.WithPreferWait(0), client.WithSleep(clock.sleep))
		final, err := mis.Wait(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, client.StatusDone, final.Status)
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, reqs, 3)
		require.Empty(t, reqs[0].inm)
		require.NotEmpty(t, etag)
		require.Equal(t, etag, reqs[1].inm, "the second poll carries the first answer's ETag")
		require.Equal(t, etag, reqs[2].inm)
		for i := range 2 {
			hint, err := strconv.Atoi(reqs[i].retry)
			require.NoError(t, err, "a PENDING answer carries Retry-After")
			require.Positive(t, hint)
			require.GreaterOrEqual(t, reqs[i+1].at-reqs[i].at, time.Duration(hint)*time.Second)
		}
		require.Empty(t, reqs[0].prefer, "WithPreferWait(0) sends no Prefer")
	})

	t.Run("StormOf429And503IsWaitedOutWithinTheHints", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.create(t)
		_, err := b.worker(t, workerA).Complete(context.Background(), job.ID, client.Link{Entity: "composition", Href: href})
		require.NoError(t, err)
		clock := &fakeClock{}
		// The storm: status and Retry-After (seconds) of each refused request.
		storm := []struct{ status, retry int }{{429, 3}, {503, 1}, {503, 7}, {429, 1}, {503, 0}, {429, 2}}
		var (
			mu     sync.Mutex
			at     []time.Duration
			prefer []string
		)
		b.public.set(nil, func(w nethttp.ResponseWriter, r *nethttp.Request) bool {
			if !strings.HasSuffix(r.URL.Path, job.ID) {
				return false
			}
			mu.Lock()
			defer mu.Unlock()
			at = append(at, clock.elapsed())
			prefer = append(prefer, r.Header.Get("Prefer"))
			if n := len(at); n <= len(storm) {
				s := storm[n-1]
				if s.retry > 0 {
					w.Header().Set("Retry-After", strconv.Itoa(s.retry))
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(s.status)
				_, _ = fmt.Fprintf(w, `{"error":{"type":"x","message":"storm"},"meta":{"code":%d,"url":"/","type":"object","request_id":"r"}}`, s.status)
				return true
			}
			return false
		})
		var pauses []time.Duration
		mis := b.mis(t, client.WithBackoff(100*time.Millisecond, 4*time.Second), client.WithSleep(func(ctx context.Context, d time.Duration) error {
			pauses = append(pauses, d)
			return clock.sleep(ctx, d)
		}), client.WithJitter(func(d time.Duration) time.Duration { return d })) // the largest jitter allowed
		final, err := mis.Wait(context.Background(), job.ID)
		require.NoError(t, err)
		require.Equal(t, client.StatusDone, final.Status)
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, at, len(storm)+1, "every refused request is retried, and only those")
		for i, s := range storm {
			gap := at[i+1] - at[i]
			require.GreaterOrEqual(t, gap, time.Duration(s.retry)*time.Second, "request %d came before the hint of answer %d", i+1, i)
			// The backoff grows but stays within max plus half of it, or the hint plus half of it.
			require.LessOrEqual(t, gap, max(6*time.Second, time.Duration(s.retry)*time.Second*3/2))
		}
		require.Len(t, pauses, len(storm))
		for _, p := range prefer {
			require.Equal(t, "wait=25", p)
		}
	})

	t.Run("CancelWhileHeldReturnsAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.create(t)
		held := make(chan struct{}, 1)
		b.public.set(func(r *nethttp.Request) {
			if strings.HasSuffix(r.URL.Path, job.ID) {
				select {
				case held <- struct{}{}:
				default:
				}
			}
		}, nil)
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan error, 1)
		go func() {
			_, err := b.mis(t, client.WithPreferWait(time.Hour)).Wait(ctx, job.ID)
			got <- err
		}()
		<-held
		cancel()
		require.ErrorIs(t, <-got, context.Canceled)
	})

	t.Run("CancelWhilePausingReturnsAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.create(t)
		refused := make(chan struct{}, 1)
		b.public.set(nil, func(w nethttp.ResponseWriter, r *nethttp.Request) bool {
			if !strings.HasSuffix(r.URL.Path, job.ID) {
				return false
			}
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(nethttp.StatusServiceUnavailable)
			select {
			case refused <- struct{}{}:
			default:
			}
			return true
		})
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan error, 1)
		go func() {
			// The real sleep: an hour, unless the context ends.
			_, err := b.mis(t).Wait(ctx, job.ID)
			got <- err
		}()
		<-refused
		cancel()
		require.ErrorIs(t, <-got, context.Canceled)
	})

	t.Run("AlreadyCancelledSendsNothing", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		unreachable, err := client.New("http://127.0.0.1:1")
		require.NoError(t, err)
		_, err = unreachable.Wait(ctx, domain.NewID().String())
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("TokenFailureEndsTheWait", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		idp := errors.New("identity provider down")
		c, err := client.New(b.public.url, client.WithAPIKey(testkit.KeyA),
			client.WithTokenFunc(func(context.Context) (string, error) { return "", idp }))
		require.NoError(t, err)
		_, err = c.Wait(context.Background(), domain.NewID().String())
		require.ErrorIs(t, err, idp)
	})

	t.Run("NetworkErrorsAreRetriedWithBackoff", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.create(t)
		_, err := b.worker(t, workerA).Fail(context.Background(), job.ID, 1, "m")
		require.NoError(t, err)
		var drops atomic.Int32
		b.public.set(nil, func(w nethttp.ResponseWriter, r *nethttp.Request) bool {
			if drops.Add(1) <= 3 {
				panic(nethttp.ErrAbortHandler) // the connection drops without an answer
			}
			return false
		})
		clock := &fakeClock{}
		var retries []int
		var last error
		final, err := b.mis(t, client.WithSleep(clock.sleep), client.WithRetryHook(func(n int, err error) {
			retries, last = append(retries, n), err
		})).Wait(context.Background(), job.ID)
		require.NoError(t, err)
		require.Equal(t, client.StatusFailed, final.Status)
		require.Equal(t, int32(4), drops.Load(), "three dropped, the fourth answered")
		require.Positive(t, clock.elapsed())
		require.Equal(t, []int{1, 2, 3}, retries, "the hook hears of each failure before its retry")
		require.ErrorContains(t, last, "GET /patients/composition/job/"+job.ID)
	})

	t.Run("RetryHookHearsOfTransientAnswers", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.create(t)
		_, err := b.worker(t, workerA).Fail(context.Background(), job.ID, 1, "m")
		require.NoError(t, err)
		var refusals atomic.Int32
		b.public.set(nil, func(w nethttp.ResponseWriter, r *nethttp.Request) bool {
			if refusals.Add(1) <= 1 {
				w.WriteHeader(nethttp.StatusServiceUnavailable)
				return true
			}
			return false
		})
		clock := &fakeClock{}
		var heard []error
		_, err = b.mis(t, client.WithSleep(clock.sleep), client.WithRetryHook(func(_ int, err error) { heard = append(heard, err) })).
			Wait(context.Background(), job.ID)
		require.NoError(t, err)
		require.Len(t, heard, 1)
		var e *client.Error
		require.ErrorAs(t, heard[0], &e)
		require.Equal(t, 503, e.Status)
	})

	t.Run("PermanentErrorsEndTheWait", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.mis(t).Wait(context.Background(), domain.NewID().String())
		require.ErrorIs(t, err, client.ErrNotFound)
		_, err = b.mis(t).Wait(context.Background(), "")
		require.ErrorIs(t, err, client.ErrInvalid)
		var e *client.Error
		require.False(t, errors.As(err, &e), "an empty id is refused before any request")
	})
}

// TestWaitPausesAfterAPendingAnswerWithoutHint: the service sends
// Retry-After with every PENDING answer it does not hold, but a proxy may
// drop it. Wait then polled again at once, sending over ten thousand
// requests a second; it pauses the least backoff instead, after a 200 and
// after a 304, and after a Retry-After of 0 too.
func TestWaitPausesAfterAPendingAnswerWithoutHint(t *testing.T) {
	t.Parallel()
	const id = "89678f60-4cdc-4fe3-ae83-e8b3ebd35c59"
	var (
		mu       sync.Mutex
		requests int
		slept    []time.Duration
	)
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		mu.Lock()
		requests++
		n := requests
		mu.Unlock()
		w.Header().Set("ETag", `W/"1.x"`)
		switch n {
		case 2: // still the job the client saw, no hint
			w.WriteHeader(nethttp.StatusNotModified)
			return
		case 3:
			w.Header().Set("Retry-After", "0")
		}
		status := "PENDING"
		if n == 4 {
			status = "DONE"
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":{"id":"` + id + `","status":"` + status + `","eta":"2026-12-07T12:00:00Z","links":[{"entity":"composition","href":"/p"}]},"meta":{"code":200}}`))
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, client.WithToken("t"), client.WithAPIKey("k"), client.WithBackoff(700*time.Millisecond, time.Second),
		client.WithSleep(func(_ context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			slept = append(slept, d)
			return nil
		}))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	job, err := c.Wait(ctx, id)
	require.NoError(t, err)
	require.Equal(t, client.StatusDone, job.Status)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 4, requests)
	require.Equal(t, []time.Duration{700 * time.Millisecond, 700 * time.Millisecond, 700 * time.Millisecond}, slept)
}
