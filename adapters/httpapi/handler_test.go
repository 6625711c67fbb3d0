package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/jobstatus/jobstatus/adapters/apikey"
	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// faultyRepo wraps a repository and can fail or panic on Get and GetAt
// (the status use case reads through GetAt when a store has it), and hold
// jobs it cannot read (as rows written by hand against the rules).
type faultyRepo struct {
	*memory.Jobs
	err   error
	panic bool

	mu         sync.Mutex
	unreadable map[domain.ID]*domain.UnreadableJobError
}

// spoil makes the stored job j one the repository cannot read, for the
// reason given.
func (f *faultyRepo) spoil(j domain.Job, column, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unreadable == nil {
		f.unreadable = map[domain.ID]*domain.UnreadableJobError{}
	}
	f.unreadable[j.ID] = &domain.UnreadableJobError{ID: j.ID, ClientID: j.ClientID, Field: column, Reason: reason}
}

func (f *faultyRepo) spoiled(id domain.ID) *domain.UnreadableJobError {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.unreadable[id]
}

// ListJobs implements ports.JobLister: the jobs it cannot read are listed
// as such.
func (f *faultyRepo) ListJobs(ctx context.Context, q ports.JobListQuery) ([]ports.ListedJob, error) {
	listed, err := f.Jobs.ListJobs(ctx, q)
	for i, l := range listed {
		if u := f.spoiled(l.Job.ID); u != nil {
			listed[i] = ports.ListedJob{Job: domain.Job{ID: l.Job.ID, ClientID: l.Job.ClientID, CreatedAt: l.Job.CreatedAt}, Unreadable: u}
		}
	}
	return listed, err
}

func (f *faultyRepo) Get(ctx context.Context, id domain.ID) (domain.Job, error) {
	j, _, err := f.GetAt(ctx, id)
	return j, err
}

func (f *faultyRepo) GetAt(ctx context.Context, id domain.ID) (domain.Job, int64, error) {
	if f.panic {
		panic("boom: SELECT secret FROM async_jobs")
	}
	if f.err != nil {
		return domain.Job{}, 0, f.err
	}
	if u := f.spoiled(id); u != nil {
		return domain.Job{}, 1, u
	}
	return f.Jobs.GetAt(ctx, id)
}

type testBundle struct {
	kit     *testkit.Kit
	app     useCases
	repo    *faultyRepo
	baseURL string
	logs    *observer.ObservedLogs
	pending domain.Job
	done    domain.Job
	failed  domain.Job
	otherB  domain.Job // belongs to ClientB
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	kit := testkit.New(t)
	verifier, err := jwtauth.NewVerifier(jwtauth.Config{Issuer: testkit.Issuer, Audience: testkit.Audience, Algorithms: jwtauth.DefaultAlgorithms, JWKSFile: kit.JWKSFile}, nil)
	require.NoError(t, err)
	t.Cleanup(verifier.Close)
	clients, err := apikey.Load(kit.KeysFile)
	require.NoError(t, err)
	changes, err := app.NewChanges(100)
	require.NoError(t, err)
	repo := &faultyRepo{Jobs: memory.NewJobs()}
	a := newUseCases(t, repo, verifier, clients, nil, changes)

	core, logs := observer.New(zap.DebugLevel)
	logger := zap.New(core)
	base := testkit.StartServer(t, httpapi.NewHandler(a.Public, logger, httpapi.DefaultHandlerConfig(), httpapi.NopObserver{}), logger)

	b := &testBundle{kit: kit, app: a, repo: repo, baseURL: base, logs: logs}
	ctx := context.Background()
	mk := func(client string) domain.Job {
		j, err := a.CreateJob.Handle(ctx, app.CreateJob{ClientID: client, ETA: time.Minute})
		require.NoError(t, err)
		return j
	}
	b.pending = mk(testkit.ClientA)
	b.done, err = a.CompleteJob.Handle(ctx, app.CompleteJob{ID: mk(testkit.ClientA).ID.String(),
		Links: []domain.Link{{Entity: "composition", Href: "/patients/p1/encounter/e1/composition/c1"}}})
	require.NoError(t, err)
	b.failed, err = a.FailJob.Handle(ctx, app.FailJob{ID: mk(testkit.ClientA).ID.String(), Code: 409, Message: "Composition was replaced"})
	require.NoError(t, err)
	b.otherB = mk(testkit.ClientB)
	return b
}

// response is a reply read in full.
type response = testkit.Reply

func (b *testBundle) do(t *testing.T, method, path string, header nethttp.Header, body io.Reader) response {
	t.Helper()
	return testkit.Do(t, nil, method, b.baseURL+path, header, body)
}

func (b *testBundle) auth(client, key string) nethttp.Header {
	return testkit.Auth(b.kit.Token(client), key)
}

var jobPath = testkit.JobPath

// requireError checks status, error type and message, and the meta block.
func requireError(t *testing.T, r response, status int, typ, msg string) {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Raw)
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	e, ok := r.Body["error"].(map[string]any)
	require.True(t, ok, "no error object in %s", r.Raw)
	require.Equal(t, typ, e["type"])
	if msg != "" {
		require.Equal(t, msg, e["message"])
	}
	require.NotContains(t, r.Body, "data")
	m := r.Body["meta"].(map[string]any)
	require.Equal(t, float64(status), m["code"])
	require.NotEmpty(t, m["request_id"])
	require.Equal(t, r.Header.Get("X-Request-ID"), m["request_id"])
}

func TestGetJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hdr := b.auth(testkit.ClientA, testkit.KeyA)

	t.Run("Pending", func(t *testing.T) {
		t.Parallel()
		r := b.do(t, "GET", jobPath(b.pending.ID)+"?x=1", hdr, nil)
		require.Equal(t, 200, r.Status)
		require.JSONEq(t, fmt.Sprintf(`{"id":%q,"status":"PENDING","eta":%q,"links":[]}`,
			b.pending.ID, b.pending.ETA.Format("2006-01-02T15:04:05.000Z")), string(mustJSON(t, r.Body["data"])))
		m := r.Body["meta"].(map[string]any)
		require.Equal(t, jobPath(b.pending.ID), m["url"], "meta.url has no query")
		require.Equal(t, "object", m["type"])
		require.Equal(t, float64(200), m["code"])
	})
	t.Run("Done", func(t *testing.T) {
		t.Parallel()
		r := b.do(t, "GET", jobPath(b.done.ID), hdr, nil)
		require.Equal(t, 200, r.Status)
		data := r.Body["data"].(map[string]any)
		require.Equal(t, "DONE", data["status"])
		require.Equal(t, []any{map[string]any{"entity": "composition", "href": "/patients/p1/encounter/e1/composition/c1"}}, data["links"])
		require.NotContains(t, data, "error")
	})
	t.Run("Failed", func(t *testing.T) {
		t.Parallel()
		r := b.do(t, "GET", jobPath(b.failed.ID), hdr, nil)
		require.Equal(t, 200, r.Status)
		data := r.Body["data"].(map[string]any)
		require.Equal(t, "FAILED", data["status"])
		require.Equal(t, map[string]any{"code": float64(409), "message": "Composition was replaced"}, data["error"])
		require.Equal(t, []any{}, data["links"])
	})
	t.Run("UpperCaseIDIsCanonicalised", func(t *testing.T) {
		t.Parallel()
		r := b.do(t, "GET", jobPath(strings.ToUpper(b.pending.ID.String())), hdr, nil)
		require.Equal(t, 200, r.Status)
		require.Equal(t, b.pending.ID.String(), r.Body["data"].(map[string]any)["id"])
	})
	t.Run("HeadHasHeadersNoBody", func(t *testing.T) {
		t.Parallel()
		get := b.do(t, "GET", jobPath(b.done.ID), hdr, nil)
		head := b.do(t, "HEAD", jobPath(b.done.ID), hdr, nil)
		require.Equal(t, 200, head.Status)
		require.Empty(t, head.Raw)
		require.Equal(t, "application/json", head.Header.Get("Content-Type"))
		require.Equal(t, get.Header.Get("Content-Length"), head.Header.Get("Content-Length"))
	})
	t.Run("HeadOfError", func(t *testing.T) {
		t.Parallel()
		head := b.do(t, "HEAD", jobPath(domain.NewID()), hdr, nil)
		require.Equal(t, 404, head.Status)
		require.Empty(t, head.Raw)
	})
	t.Run("RequestIDEchoed", func(t *testing.T) {
		t.Parallel()
		h := b.auth(testkit.ClientA, testkit.KeyA)
		h.Set("X-Request-ID", "trace-123")
		r := b.do(t, "GET", jobPath(b.pending.ID), h, nil)
		require.Equal(t, "trace-123", r.Header.Get("X-Request-ID"))
		require.Equal(t, "trace-123", r.Body["meta"].(map[string]any)["request_id"])
	})
	t.Run("UnsafeRequestIDReplaced", func(t *testing.T) {
		t.Parallel()
		h := b.auth(testkit.ClientA, testkit.KeyA)
		h.Set("X-Request-ID", "bad id\" with quotes")
		r := b.do(t, "GET", jobPath(b.pending.ID), h, nil)
		require.NotEqual(t, "bad id\" with quotes", r.Header.Get("X-Request-ID"))
		require.Len(t, r.Header.Get("X-Request-ID"), 36)
	})
	t.Run("MadeRequestIDsAreDistinctVersion4UUIDs", func(t *testing.T) {
		t.Parallel()
		seen := map[string]bool{}
		for range 200 {
			r := b.do(t, "GET", jobPath(b.pending.ID), b.auth(testkit.ClientA, testkit.KeyA), nil)
			id := r.Header.Get("X-Request-ID")
			parsed, err := domain.ParseID(id)
			require.NoError(t, err, "request id %q", id)
			require.Equal(t, id, parsed.String(), "canonical")
			require.Equal(t, byte('4'), id[14], "version 4: %q", id)
			require.Contains(t, "89ab", string(id[19]), "RFC 9562 variant: %q", id)
			require.False(t, seen[id], "request id %q made twice", id)
			seen[id] = true
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return raw
}

func TestStatusCodes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	good := func() nethttp.Header { return b.auth(testkit.ClientA, testkit.KeyA) }
	with := func(edit func(nethttp.Header)) nethttp.Header { h := good(); edit(h); return h }
	noScope := func() string {
		c := testkit.Claims(testkit.ClientA)
		c["scope"] = "composition:create Composition:read composition:readx"
		return b.kit.Sign(b.kit.Header(), c)
	}()
	const scopeMsg = "Your scope does not allow to access this resource. Missing allowances: composition:read"

	tests := []struct {
		name   string
		method string
		path   string
		header nethttp.Header
		body   io.Reader
		status int
		typ    string
		msg    string
	}{
		{"BadIDIs400", "GET", jobPath("not-a-uuid"), good(), nil, 400, "validation_failed", "asyncJobId must be a UUID"},
		{"BracedIDIs400", "GET", jobPath("%7B" + b.pending.ID.String() + "%7D"), good(), nil, 400, "validation_failed", ""},
		{"URNIDIs400", "GET", jobPath("urn:uuid:" + b.pending.ID.String()), good(), nil, 400, "validation_failed", ""},
		{"HexIDIs400", "GET", jobPath(strings.ReplaceAll(b.pending.ID.String(), "-", "")), good(), nil, 400, "validation_failed", ""},
		{"EncodedSlashIs400", "GET", jobPath("a%2Fb"), good(), nil, 400, "validation_failed", ""},
		{"BodyOnGetIs400", "GET", jobPath(b.pending.ID), good(), strings.NewReader(`{"x":1}`), 400, "validation_failed", "Request is malformed"},
		{"NoAuthorizationIs401", "GET", jobPath(b.pending.ID), with(func(h nethttp.Header) { h.Del("Authorization") }), nil, 401, "access_denied", "Invalid access token"},
		{"NoAPIKeyIs401", "GET", jobPath(b.pending.ID), with(func(h nethttp.Header) { h.Del("Api-Key") }), nil, 401, "access_denied", "Invalid api-key"},
		{"EmptyAPIKeyIs401", "GET", jobPath(b.pending.ID), with(func(h nethttp.Header) { h.Set("Api-Key", "") }), nil, 401, "access_denied", "Invalid api-key"},
		{"UnknownAPIKeyIs401", "GET", jobPath(b.pending.ID), with(func(h nethttp.Header) { h.Set("Api-Key", "guess") }), nil, 401, "access_denied", "Invalid api-key"},
		{"TwoAPIKeysIs401", "GET", jobPath(b.pending.ID), with(func(h nethttp.Header) { h.Add("Api-Key", testkit.KeyA) }), nil, 401, "access_denied", "Invalid api-key"},
		{"TwoAuthorizationsIs401", "GET", jobPath(b.pending.ID), with(func(h nethttp.Header) { h.Add("Authorization", h.Get("Authorization")) }), nil, 401, "access_denied", "Invalid access token"},
		{"BasicSchemeIs401", "GET", jobPath(b.pending.ID), with(func(h nethttp.Header) { h.Set("Authorization", "Basic YTpi") }), nil, 401, "access_denied", "Invalid access token"},
		{"BearerWithoutTokenIs401", "GET", jobPath(b.pending.ID), with(func(h nethttp.Header) { h.Set("Authorization", "Bearer ") }), nil, 401, "access_denied", "Invalid access token"},
		{"GarbageTokenIs401", "GET", jobPath(b.pending.ID), with(func(h nethttp.Header) { h.Set("Authorization", "Bearer abc.def.ghi") }), nil, 401, "access_denied", "Invalid access token"},
		{"TokenOfOtherClientIs401", "GET", jobPath(b.pending.ID), with(func(h nethttp.Header) {
			h.Set("Authorization", "Bearer "+b.kit.Token(testkit.ClientB))
		}), nil, 401, "access_denied", "Invalid access token"},
		{"CredentialsInQueryIgnored", "GET", jobPath(b.pending.ID) + "?access_token=" + b.kit.Token(testkit.ClientA) + "&api-key=" + testkit.KeyA,
			nethttp.Header{}, nil, 401, "access_denied", ""},
		{"AuthBeforeIDFormat", "GET", jobPath("not-a-uuid"), nethttp.Header{}, nil, 401, "access_denied", ""},
		{"MissingScopeIs403", "GET", jobPath(b.pending.ID), with(func(h nethttp.Header) { h.Set("Authorization", "Bearer "+noScope) }), nil, 403, "forbidden", scopeMsg},
		{"ScopeBeforeIDFormat", "GET", jobPath("not-a-uuid"), with(func(h nethttp.Header) { h.Set("Authorization", "Bearer "+noScope) }), nil, 403, "forbidden", scopeMsg},
		{"UnknownJobIs404", "GET", jobPath(domain.NewID()), good(), nil, 404, "not_found", "Task not found"},
		{"OtherClientsJobIs404", "GET", jobPath(b.otherB.ID), good(), nil, 404, "not_found", "Task not found"},
		{"UnknownRouteIs404", "GET", "/patients/composition/tasks", good(), nil, 404, "not_found", "Resource not found"},
		{"PostIs405", "POST", jobPath(b.pending.ID), good(), nil, 405, "method_not_allowed", "Method POST is not allowed"},
		{"PutIs405", "PUT", jobPath(b.pending.ID), good(), nil, 405, "method_not_allowed", ""},
		{"DeleteIs405", "DELETE", jobPath(b.pending.ID), good(), nil, 405, "method_not_allowed", ""},
		{"OptionsIs405", "OPTIONS", jobPath(b.pending.ID), good(), nil, 405, "method_not_allowed", ""},
		{"HugeHeadersAre431", "GET", jobPath(b.pending.ID), with(func(h nethttp.Header) { h.Set("X-Padding", strings.Repeat("a", 17<<10)) }), nil, 431, "request_too_large", "Request headers are too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := b.do(t, tt.method, tt.path, tt.header, tt.body)
			requireError(t, r, tt.status, tt.typ, tt.msg)
			switch tt.status {
			case 401:
				require.True(t, strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer"))
			case 405:
				require.Equal(t, "GET, HEAD", r.Header.Get("Allow"))
			}
		})
	}

	t.Run("OtherClientsJobLooksLikeMissingJob", func(t *testing.T) {
		t.Parallel()
		strip := func(r response) string {
			r.Body["meta"] = nil
			return string(mustJSON(t, r.Body))
		}
		other := b.do(t, "GET", jobPath(b.otherB.ID), good(), nil)
		missing := b.do(t, "GET", jobPath(domain.NewID()), good(), nil)
		require.Equal(t, strip(missing), strip(other))
		require.Equal(t, len(missing.Raw), len(other.Raw))
	})
}

func TestStoreFaults(t *testing.T) {
	t.Parallel()
	t.Run("InternalErrorIs500WithoutDetails", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.repo.err = errors.New(`pq: relation "async_jobs" does not exist: SELECT secret`)
		r := b.do(t, "GET", jobPath(b.pending.ID), b.auth(testkit.ClientA, testkit.KeyA), nil)
		requireError(t, r, 500, "internal_error", "Internal server error")
		require.NotContains(t, string(r.Raw), "pq:")
		require.NotContains(t, string(r.Raw), "SELECT")
	})
	t.Run("PanicIs500", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.repo.panic = true
		r := b.do(t, "GET", jobPath(b.pending.ID), b.auth(testkit.ClientA, testkit.KeyA), nil)
		requireError(t, r, 500, "internal_error", "Internal server error")
		require.NotContains(t, string(r.Raw), "boom")
		require.Equal(t, 1, b.logs.FilterMessage("panic serving request").Len())
	})
	t.Run("UnavailableIs503WithRetryAfter", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.repo.err = fmt.Errorf("get job: %w: dial tcp 127.0.0.1:5432: connect: connection refused", domain.ErrUnavailable)
		r := b.do(t, "GET", jobPath(b.pending.ID), b.auth(testkit.ClientA, testkit.KeyA), nil)
		requireError(t, r, 503, "service_unavailable", "Service is temporarily unavailable, retry later")
		require.Equal(t, "1", r.Header.Get("Retry-After"))
		require.NotContains(t, string(r.Raw), "dial")
	})
}

func TestNoCredentialsInLogs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	token := b.kit.Token(testkit.ClientA)
	bad := []nethttp.Header{
		{"Authorization": {"Bearer " + token}, "Api-Key": {testkit.KeyA}},
		{"Authorization": {"Bearer " + token}, "Api-Key": {"wrong-" + testkit.KeyA}},
		{"Authorization": {"Bearer " + token + "x"}, "Api-Key": {testkit.KeyA}},
		{"Authorization": {"Bearer " + b.kit.Token(testkit.ClientB)}, "Api-Key": {testkit.KeyA}},
	}
	for _, h := range bad {
		_ = b.do(t, "GET", jobPath(b.pending.ID), h, nil)
		_ = b.do(t, "GET", jobPath("bad"), h, nil)
	}
	entries := b.logs.All()
	require.NotEmpty(t, entries)
	for _, e := range entries {
		line := e.Message + " " + fmt.Sprint(e.ContextMap())
		require.NotContains(t, line, token[:40])
		require.NotContains(t, line, testkit.KeyA)
	}
}
