package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	nethttp "net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/api"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// streamBundle serves the public API over a memory store whose event feed
// runs, with a short heartbeat.
type streamBundle struct {
	kit  *testkit.Kit
	app  useCases
	base string
}

func setupStreams(t *testing.T, cfg httpapi.HandlerConfig) *streamBundle {
	t.Helper()
	return setupStreamsWith(t, cfg, nil)
}

// setupStreamsWith is setupStreams with a revocation switch: while it is
// set, every api-key and every token is refused.
func setupStreamsWith(t *testing.T, cfg httpapi.HandlerConfig, revoked *revocation) *streamBundle {
	t.Helper()
	kit := testkit.New(t)
	repo := memory.NewJobs()
	var (
		tokens  ports.TokenVerifier = kit.Verifier(t)
		clients ports.ClientStore   = kit.Clients(t)
	)
	if revoked != nil {
		tokens, clients = revocableTokens{tokens, revoked}, revocableClients{clients, revoked}
	}
	a := newUseCases(t, repo, tokens, clients, nil, nil)
	base := testkit.StartServer(t, httpapi.NewHandler(a.Public, zap.NewNop(), cfg, httpapi.NopObserver{}), zap.NewNop())
	return &streamBundle{kit: kit, app: a, base: base}
}

// revocation says which credential is revoked: "api-key", "token" or none.
type revocation struct{ which atomic.Value }

func (r *revocation) is(c string) bool { v, _ := r.which.Load().(string); return v == c }

// revocableClients refuses every api-key once the api-key is revoked, as
// the api-key file without the client would.
type revocableClients struct {
	ports.ClientStore
	r *revocation
}

func (c revocableClients) ClientByAPIKey(ctx context.Context, key string) (domain.Client, error) {
	if c.r.is("api-key") {
		return domain.Client{}, &domain.AuthError{Credential: domain.CredentialAPIKey, Reason: "unknown"}
	}
	return c.ClientStore.ClientByAPIKey(ctx, key)
}

// revocableTokens refuses every token once the token is revoked, as a key
// set without the token's key would.
type revocableTokens struct {
	ports.TokenVerifier
	r *revocation
}

func (v revocableTokens) Verify(ctx context.Context, token string) (domain.Principal, error) {
	if v.r.is("token") {
		return domain.Principal{}, &domain.AuthError{Credential: domain.CredentialToken, Reason: "no usable key"}
	}
	return v.TokenVerifier.Verify(ctx, token)
}

func (b *streamBundle) create(t *testing.T, client string) domain.Job {
	t.Helper()
	j, err := b.app.CreateJob.Handle(context.Background(), app.CreateJob{ClientID: client, ETA: time.Minute})
	require.NoError(t, err)
	return j
}

func (b *streamBundle) complete(t *testing.T, id domain.ID) {
	t.Helper()
	_, err := b.app.CompleteJob.Handle(context.Background(), app.CompleteJob{ID: id.String(),
		Links: []domain.Link{{Entity: "composition", Href: "/patients/p/encounter/e/composition/c"}}})
	require.NoError(t, err)
}

// sse is one frame of a stream: its fields, or a comment.
type sse struct {
	id, event, data, retry, comment string
}

// openStream starts a stream and returns its frames as they come.
func openStream(t *testing.T, base string, header nethttp.Header) (*nethttp.Response, <-chan sse) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := nethttp.NewRequestWithContext(ctx, nethttp.MethodGet, base+httpapi.EventsPath, nil)
	require.NoError(t, err)
	req.Header = header
	res, err := nethttp.DefaultClient.Do(req)
	require.NoError(t, err)
	frames := make(chan sse, 100)
	go func() {
		defer close(frames)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var f sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				frames <- f
				f = sse{}
			case strings.HasPrefix(line, ": "):
				f.comment = strings.TrimPrefix(line, ": ")
			default:
				k, v, _ := strings.Cut(line, ": ")
				switch k {
				case "id":
					f.id = v
				case "event":
					f.event = v
				case "data":
					f.data = v
				case "retry":
					f.retry = v
				}
			}
		}
	}()
	return res, frames
}

// nextFrame returns the next frame that is not a heartbeat; a frame that
// does not come within a generous deadline fails the test instead of
// hanging it.
func nextFrame(t *testing.T, frames <-chan sse) sse {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case <-deadline:
			t.Fatal("no frame within 20s")
		case f, ok := <-frames:
			require.True(t, ok, "stream ended")
			if f.comment == "ping" {
				continue
			}
			return f
		}
	}
}

func TestEventStream(t *testing.T) {
	t.Parallel()
	cfg := httpapi.DefaultHandlerConfig()
	cfg.StreamHeartbeat = 50 * time.Millisecond
	b := setupStreams(t, cfg)
	good := testkit.Auth(b.kit.Token(testkit.ClientA), testkit.KeyA)

	res, frames := openStream(t, b.base, good)
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	require.Equal(t, sse{retry: "1000"}, nextFrame(t, frames))

	mine := b.create(t, testkit.ClientA)
	b.create(t, testkit.ClientB) // never on A's stream
	b.complete(t, mine.ID)

	created := nextFrame(t, frames)
	require.Equal(t, "PENDING", created.event)
	done := nextFrame(t, frames)
	require.Equal(t, "DONE", done.event)
	require.Greater(t, done.id, created.id)
	var data httpapi.JobData
	require.NoError(t, json.Unmarshal([]byte(done.data), &data))
	require.Equal(t, mine.ID.String(), data.ID)
	require.Equal(t, domain.StatusDone, data.Status)
	require.Len(t, data.Links, 1)

	// The status endpoint answers the same data object.
	st := testkit.Do(t, nil, "GET", b.base+testkit.JobPath(mine.ID), good, nil)
	raw, err := json.Marshal(st.Body["data"])
	require.NoError(t, err)
	require.JSONEq(t, string(raw), done.data)

	t.Run("Heartbeat", func(t *testing.T) {
		for f := range frames {
			if f.comment == "ping" {
				return
			}
		}
		t.Fatal("stream ended without a heartbeat")
	})

	t.Run("ResumeAfterLastEventID", func(t *testing.T) {
		h := good.Clone()
		h.Set("Last-Event-ID", created.id)
		_, again := openStream(t, b.base, h)
		require.Equal(t, "1000", nextFrame(t, again).retry)
		f := nextFrame(t, again)
		require.Equal(t, done.id, f.id, "exactly the changes after the id")
		require.Equal(t, "DONE", f.event)
	})

	t.Run("ShutdownEndsWithRetry", func(t *testing.T) {
		_, s := openStream(t, b.base, testkit.Auth(b.kit.Token(testkit.ClientB), testkit.KeyB))
		require.Equal(t, "1000", nextFrame(t, s).retry)
		b.app.Feed.Close()
		require.Equal(t, "1000", nextFrame(t, s).retry)
		for f := range s {
			require.Equal(t, "ping", f.comment, "nothing but heartbeats after the last retry")
		}
	})
}

func TestEventStreamTokenExpiryEndsIt(t *testing.T) {
	t.Parallel()
	b := setupStreams(t, httpapi.DefaultHandlerConfig())
	claims := testkit.Claims(testkit.ClientA)
	claims["exp"] = time.Now().Add(2 * time.Second).Unix()
	_, frames := openStream(t, b.base, testkit.Auth(b.kit.Sign(b.kit.Header(), claims), testkit.KeyA))
	require.Equal(t, "1000", nextFrame(t, frames).retry)
	require.Equal(t, "token expired", nextFrame(t, frames).comment)
	_, open := <-frames
	require.False(t, open, "the stream ends")
}

// TestStreamAndListRefusalsMatchOpenAPI: every refusal comes as the
// envelope before any stream starts, and every answer is as documented.
func TestStreamAndListRefusalsMatchOpenAPI(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t, api.OpenAPI)
	b := setupStreams(t, httpapi.DefaultHandlerConfig())
	for range 3 {
		b.create(t, testkit.ClientA)
	}
	good := testkit.Auth(b.kit.Token(testkit.ClientA), testkit.KeyA)
	noScope := testkit.Claims(testkit.ClientA)
	noScope["scope"] = "composition:create"
	forbidden := testkit.Auth(b.kit.Sign(b.kit.Header(), noScope), testkit.KeyA)
	list := func(q string) string { return httpapi.JobsPath + q }

	// Hold the client's streams up to its cap (10 in the test use cases).
	for range 10 {
		res, _ := openStream(t, b.base, testkit.Auth(b.kit.Token(testkit.ClientB), testkit.KeyB))
		require.Equal(t, 200, res.StatusCode)
	}
	tests := []struct {
		name, path string
		header     nethttp.Header
		status     int
		message    string
	}{
		{"List200", list("?page_size=2"), good, 200, ""},
		{"List200Filtered", list("?status=PENDING&created_from=2026-01-01T00:00:00Z&created_to=2099-01-01T00:00:00Z"), good, 200, ""},
		{"List401", list(""), nethttp.Header{}, 401, "Invalid api-key"},
		{"List403", list(""), forbidden, 403, ""},
		{"ListStatus", list("?status=done"), good, 400, "Invalid status: must be PENDING, DONE or FAILED"},
		{"ListCreatedFrom", list("?created_from=today"), good, 400, "Invalid created_from: must be an RFC 3339 date-time"},
		{"ListCreatedTo", list("?created_to=2026-02-30T00:00:00Z"), good, 400, "Invalid created_to: must be an RFC 3339 date-time"},
		{"ListPageSize", list("?page_size=0"), good, 400, "Invalid page_size: must be a positive whole number"},
		{"ListPageToken", list("?page_token=" + url.QueryEscape("not a token")), good, 400, "Invalid page_token: must be a next_page_token from a previous page"},
		{"ListRepeated", list("?status=DONE&status=FAILED"), good, 400, "Invalid status: must be given once"},
		{"ListUnknown", list("?client_id=mis-beta"), good, 400, `Invalid query: unknown parameter "client_id"`},
		{"ListSemicolon", list("?page_size=1;status=DONE"), good, 400, `Invalid query: cannot read "page_size=1;status=DONE"`},
		{"ListBadEscapeInName", list("?%zz=1"), good, 400, `Invalid query: cannot read "%zz=1"`},
		{"ListBadEscapeInValue", list("?page_size=2&status=%D"), good, 400, `Invalid query: cannot read "status=%D"`},
		{"ListPageSizeHuge", list("?page_size=99999999999999999999"), good, 200, ""},
		{"ListPageSizePlus", list("?page_size=%2B3"), good, 400, "Invalid page_size: must be a positive whole number"},
		{"ListPageSizePlusAsSpace", list("?page_size=+3"), good, 400, "Invalid page_size: must be a positive whole number"},
		{"ListPageSizeHex", list("?page_size=0x10"), good, 400, "Invalid page_size: must be a positive whole number"},
		{"ListPageSizeExponent", list("?page_size=1e2"), good, 400, "Invalid page_size: must be a positive whole number"},
		{"ListPageSizeLeadingZeros", list("?page_size=002"), good, 200, ""},
		{"ListPageSizeHugeNegative", list("?page_size=-99999999999999999999"), good, 400, "Invalid page_size: must be a positive whole number"},
		{"ListPageSizeSign", list("?page_size=%2B99999999999999999999"), good, 400, "Invalid page_size: must be a positive whole number"},
		{"Events401", httpapi.EventsPath, nethttp.Header{}, 401, "Invalid api-key"},
		{"Events403", httpapi.EventsPath, forbidden, 403, ""},
		{"Events400", httpapi.EventsPath, with(good, "Last-Event-ID", "abc"), 400, "Invalid Last-Event-ID: must be an event id this service sent"},
		{"Events400Sign", httpapi.EventsPath, with(good, "Last-Event-ID", "+1"), 400, "Invalid Last-Event-ID: must be an event id this service sent"},
		{"Events400MinusZero", httpapi.EventsPath, with(good, "Last-Event-ID", "-0"), 400, "Invalid Last-Event-ID: must be an event id this service sent"},
		{"Events400Hex", httpapi.EventsPath, with(good, "Last-Event-ID", "0x10"), 400, "Invalid Last-Event-ID: must be an event id this service sent"},
		{"Events400Exponent", httpapi.EventsPath, with(good, "Last-Event-ID", "1e2"), 400, "Invalid Last-Event-ID: must be an event id this service sent"},
		{"Events400Fraction", httpapi.EventsPath, with(good, "Last-Event-ID", "1.0"), 400, "Invalid Last-Event-ID: must be an event id this service sent"},
		{"Events400InnerSpace", httpapi.EventsPath, with(good, "Last-Event-ID", "1 2"), 400, "Invalid Last-Event-ID: must be an event id this service sent"},
		{"Events400Underscore", httpapi.EventsPath, with(good, "Last-Event-ID", "1_0"), 400, "Invalid Last-Event-ID: must be an event id this service sent"},
		{"Events400NonASCIIDigit", httpapi.EventsPath, with(good, "Last-Event-ID", "\u0663"), 400, "Invalid Last-Event-ID: must be an event id this service sent"},
		{"Events429", httpapi.EventsPath, testkit.Auth(b.kit.Token(testkit.ClientB), testkit.KeyB), 429, "Rate limit exceeded, retry later"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testkit.Do(t, nil, "GET", b.base+tt.path, tt.header, nil)
			require.Equal(t, tt.status, r.Status, string(r.Raw))
			if tt.message != "" {
				require.Equal(t, tt.message, r.ErrorMessage())
			}
			requireMatchesOpenAPI(t, doc, "GET", tt.path, r)
		})
	}
	t.Run("Events200", func(t *testing.T) {
		res, _ := openStream(t, b.base, good)
		router, err := gorillamux.NewRouter(doc)
		require.NoError(t, err)
		req, err := nethttp.NewRequest("GET", "http://jobstatus.example"+strings.TrimSuffix(doc.Servers[0].URL, "/")+httpapi.EventsPath, nil)
		require.NoError(t, err)
		route, params, err := router.FindRoute(req)
		require.NoError(t, err)
		opts := &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
		require.NoError(t, openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
			Status:                 res.StatusCode, Header: res.Header, Options: opts,
		}))
	})
	t.Run("ListPagesThrough", func(t *testing.T) {
		var ids []string
		token := ""
		for {
			q := "?page_size=2"
			if token != "" {
				q += "&page_token=" + token
			}
			r := testkit.Do(t, nil, "GET", b.base+list(q), good, nil)
			require.Equal(t, 200, r.Status, string(r.Raw))
			for _, d := range r.Body["data"].([]any) {
				ids = append(ids, d.(map[string]any)["id"].(string))
			}
			next, _ := r.Body["meta"].(map[string]any)["next_page_token"].(string)
			if next == "" {
				break
			}
			token = next
		}
		require.Len(t, ids, 3)
	})
}

// TestEventStreamUnknownLastEventIDResets: an id ahead of the log, however
// large, is answered with "event: reset", and the stream goes on with the
// next change.
func TestEventStreamUnknownLastEventIDResets(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"100", "9223372036854775807", "99999999999999999999"} {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			b := setupStreams(t, httpapi.DefaultHandlerConfig())
			b.create(t, testkit.ClientA)
			h := testkit.Auth(b.kit.Token(testkit.ClientA), testkit.KeyA)
			h.Set("Last-Event-ID", id)
			res, frames := openStream(t, b.base, h)
			require.Equal(t, 200, res.StatusCode)
			require.Equal(t, "1000", nextFrame(t, frames).retry)
			reset := nextFrame(t, frames)
			require.Equal(t, "reset", reset.event)
			require.Contains(t, reset.data, "not an id this service sent")
			job := b.create(t, testkit.ClientA)
			f := nextFrame(t, frames)
			require.Equal(t, "PENDING", f.event)
			require.Contains(t, f.data, job.ID.String())
		})
	}
}

// TestEventStreamHead: HEAD answers like GET, without a body.
func TestEventStreamHead(t *testing.T) {
	t.Parallel()
	b := setupStreams(t, httpapi.DefaultHandlerConfig())
	r := testkit.Do(t, nil, "HEAD", b.base+httpapi.EventsPath, testkit.Auth(b.kit.Token(testkit.ClientA), testkit.KeyA), nil)
	require.Equal(t, 200, r.Status)
	require.Equal(t, "text/event-stream", r.Header.Get("Content-Type"))
	require.Empty(t, r.Raw)
	r = testkit.Do(t, nil, "POST", b.base+httpapi.EventsPath, testkit.Auth(b.kit.Token(testkit.ClientA), testkit.KeyA), nil)
	require.Equal(t, 405, r.Status)
	require.Equal(t, "GET, HEAD", r.Header.Get("Allow"))
}

// TestEventStreamEndsWhenCredentialsAreRevoked: an open stream checks its
// credentials again before each change and heartbeat, and ends once they
// are refused, as a new request would be.
func TestEventStreamEndsWhenCredentialsAreRevoked(t *testing.T) {
	t.Parallel()
	for _, which := range []string{"api-key", "token"} {
		for _, by := range []string{"Heartbeat", "Change"} {
			t.Run(which+"/"+by, func(t *testing.T) {
				t.Parallel()
				cfg := httpapi.DefaultHandlerConfig()
				if by == "Change" {
					cfg.StreamHeartbeat = time.Hour // only a change can notice
				} else {
					cfg.StreamHeartbeat = 20 * time.Millisecond
				}
				var revoked revocation
				b := setupStreamsWith(t, cfg, &revoked)
				good := testkit.Auth(b.kit.Token(testkit.ClientA), testkit.KeyA)
				_, frames := openStream(t, b.base, good)
				require.Equal(t, "1000", nextFrame(t, frames).retry)
				b.create(t, testkit.ClientA)
				require.Equal(t, "PENDING", nextFrame(t, frames).event)

				revoked.which.Store(which)
				require.Equal(t, 401, testkit.Do(t, nil, "GET", b.base+httpapi.JobsPath, good, nil).Status, "a new request is refused")
				if by == "Change" {
					b.create(t, testkit.ClientA)
				}
				var last sse
				deadline := time.After(10 * time.Second)
			read:
				for {
					select {
					case f, ok := <-frames:
						if !ok {
							break read
						}
						last = f
					case <-deadline:
						t.Fatal("the stream did not end")
					}
				}
				require.Equal(t, sse{comment: "credentials revoked"}, last, "the last frame before the stream ends")
			})
		}
	}
}

// TestEventStreamExpiryHonoursLeeway: a token past exp but inside the
// verifier's leeway opens a stream that lasts until exp plus the leeway.
func TestEventStreamExpiryHonoursLeeway(t *testing.T) {
	t.Parallel()
	cfg := httpapi.DefaultHandlerConfig()
	cfg.StreamHeartbeat = 20 * time.Millisecond
	cfg.AuthLeeway = (&testkit.Kit{}).VerifierConfig().Leeway // the leeway the kit's verifier uses
	b := setupStreams(t, cfg)
	claims := testkit.Claims(testkit.ClientA)
	claims["exp"] = time.Now().Add(-time.Second).Unix() // expired, inside the leeway
	_, frames := openStream(t, b.base, testkit.Auth(b.kit.Sign(b.kit.Header(), claims), testkit.KeyA))
	require.Equal(t, "1000", nextFrame(t, frames).retry)
	first := <-frames
	require.Equal(t, "ping", first.comment, "the stream stays open inside the leeway")
	require.Equal(t, "token expired", nextFrame(t, frames).comment)
	_, open := <-frames
	require.False(t, open, "the stream ends")
}
