package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	nethttp "net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/api"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// Worker clients of the write API tests.
const (
	workerA = "worker-sign"
	workerB = "worker-refine"
)

const testHref = "/patients/p1/encounter/e1/composition/c1"

type internalBundle struct {
	*testBundle
	repo *faultyRepo
}

// setupInternal serves the write API for workerA and workerB with a 1 KiB
// body cap, over the memory store, with a real verifier.
func setupInternal(t *testing.T) *internalBundle {
	t.Helper()
	kit := testkit.New(t)
	verifier := kit.Verifier(t)
	repo := &faultyRepo{Jobs: memory.NewJobs()}
	a := newUseCases(t, repo, verifier, kit.Clients(t), nil, nil)
	core, logs := observer.New(zap.DebugLevel)
	logger := zap.New(core)
	h, err := httpapi.NewInternalHandler(
		a.Operator,
		verifier, logger, httpapi.InternalConfig{Writers: []string{workerA, workerB}, MaxBodyBytes: 1024}, httpapi.NopObserver{})
	require.NoError(t, err)
	cfg := httpapi.DefaultServerConfig()
	cfg.Addr = "127.0.0.1:0"
	srv := httpapi.NewServer(cfg, h, logger)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	return &internalBundle{testBundle: &testBundle{kit: kit, app: a, repo: repo, baseURL: "http://" + srv.Addr().String(), logs: logs}, repo: repo}
}

// writeToken is a valid token of client carrying scope.
func (b *internalBundle) writeToken(client, scope string) string {
	c := testkit.Claims(client)
	c["scope"] = scope
	return b.kit.Sign(b.kit.Header(), c)
}

func (b *internalBundle) writer(client string) nethttp.Header {
	return nethttp.Header{"Authorization": {"Bearer " + b.writeToken(client, domain.ScopeCompositionJobWrite)},
		"Content-Type": {"application/json"}}
}

func (b *internalBundle) post(t *testing.T, path string, header nethttp.Header, body string) response {
	t.Helper()
	return b.do(t, "POST", path, header, strings.NewReader(body))
}

func (b *internalBundle) newJob(t *testing.T) string {
	t.Helper()
	r := b.post(t, "/internal/jobs", b.writer(workerA), `{"client_id":"mis-alpha","eta":"1m"}`)
	require.Equal(t, 201, r.Status, string(r.Raw))
	return r.Body["data"].(map[string]any)["id"].(string)
}

func TestInternalConfigIsValidated(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]httpapi.InternalConfig{
		"ZeroMaxBody":      {},
		"NegativeMaxBody":  {MaxBodyBytes: -1},
		"HugeMaxBody":      {MaxBodyBytes: httpapi.MaxInternalBodyBytes + 1},
		"BlankWriter":      {MaxBodyBytes: 1024, Writers: []string{" "}},
		"PaddedWriter":     {MaxBodyBytes: 1024, Writers: []string{"worker "}},
		"NegativeInFlight": {MaxBodyBytes: 1024, MaxInFlight: -1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := httpapi.NewInternalHandler(nil, noVerifier{}, zap.NewNop(), cfg, httpapi.NopObserver{})
			require.Error(t, err)
		})
	}
}

type noVerifier struct{}

func (noVerifier) Verify(context.Context, string) (domain.Principal, error) {
	return domain.Principal{}, &domain.AuthError{Credential: domain.CredentialToken, Reason: "test"}
}

// TestInternalAuthorization is the matrix: every route refuses every bad
// caller the same way, before looking at the id or the body.
func TestInternalAuthorization(t *testing.T) {
	t.Parallel()
	b := setupInternal(t)
	id := b.newJob(t)
	json := nethttp.Header{"Content-Type": {"application/json"}}
	with := func(auth string) nethttp.Header {
		h := json.Clone()
		h["Authorization"] = []string{auth}
		return h
	}
	callers := []struct {
		name      string
		header    nethttp.Header
		status    int
		scope     string
		challenge string // WWW-Authenticate of a 401
	}{
		{"NoAuthorization", json, 401, "", "Bearer"},
		{"APIKeyOnly", nethttp.Header{"Api-Key": {testkit.KeyA}, "Content-Type": {"application/json"}}, 401, "", "Bearer"},
		{"BasicScheme", with("Basic d29ya2VyOnNlY3JldA=="), 401, "", "Bearer"},
		{"GarbageToken", with("Bearer not.a.token"), 401, "", invalidToken},
		{"TwoAuthorizations", nethttp.Header{"Authorization": {"Bearer " + b.writeToken(workerA, domain.ScopeCompositionJobWrite), "Bearer x"}}, 401, "", `Bearer error="invalid_request"`},
		{"ReadTokenOfMIS", with("Bearer " + b.kit.Token(testkit.ClientA)), 403, domain.ScopeCompositionJobWrite, ""},
		{"ReadTokenOfWriter", with("Bearer " + b.writeToken(workerA, domain.ScopeCompositionRead)), 403, domain.ScopeCompositionJobWrite, ""},
		{"WriteTokenOfUnknownWorker", with("Bearer " + b.writeToken("worker-rogue", domain.ScopeCompositionJobWrite)), 401, "", invalidToken},
		{"WriteTokenOfMIS", with("Bearer " + b.writeToken(testkit.ClientA, domain.ScopeCompositionJobWrite)), 401, "", invalidToken},
	}
	routes := []struct{ method, path, body string }{
		{"POST", "/internal/jobs", `{"client_id":"mis-alpha"}`},
		{"POST", "/internal/jobs/" + id + "/complete", `{"links":[{"entity":"composition","href":"` + testHref + `"}]}`},
		{"POST", "/internal/jobs/" + id + "/fail", `{"code":422,"message":"no"}`},
		{"GET", "/internal/jobs/" + id, ""},
		{"POST", "/internal/jobs/not-a-uuid/fail", `not json`},
	}
	for _, c := range callers {
		for _, rt := range routes {
			t.Run(c.name+"/"+rt.method+rt.path, func(t *testing.T) {
				t.Parallel()
				var body io.Reader
				if rt.body != "" {
					body = strings.NewReader(rt.body)
				}
				r := b.do(t, rt.method, rt.path, c.header, body)
				if c.status == 401 {
					requireError(t, r, 401, "access_denied", "Invalid access token")
					require.Equal(t, c.challenge, r.Header.Get("WWW-Authenticate"))
					return
				}
				requireError(t, r, 403, "forbidden", "Your scope does not allow to access this resource. Missing allowances: "+c.scope)
				require.Equal(t, `Bearer error="insufficient_scope", scope="`+c.scope+`"`, r.Header.Get("WWW-Authenticate"))
			})
		}
	}
	t.Run("JobUntouched", func(t *testing.T) {
		r := b.do(t, "GET", "/internal/jobs/"+id, b.writer(workerB), nil)
		require.Equal(t, 200, r.Status)
		require.Equal(t, "PENDING", r.Body["data"].(map[string]any)["status"])
	})
	t.Run("NoWritersMeansNobody", func(t *testing.T) {
		t.Parallel()
		h, err := httpapi.NewInternalHandler(b.app.Operator, tokenOf(workerA),
			zap.NewNop(), httpapi.InternalConfig{MaxBodyBytes: 64}, httpapi.NopObserver{})
		require.NoError(t, err)
		req, err := nethttp.NewRequest("GET", "/internal/jobs/"+id, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer anything")
		rec := newRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, 401, rec.status)
	})
}

// tokenOf accepts any token as a write token of client.
type tokenOf string

func (c tokenOf) Verify(context.Context, string) (domain.Principal, error) {
	return domain.Principal{ClientID: string(c), Scopes: []string{domain.ScopeCompositionJobWrite}}, nil
}

type recorder struct {
	header nethttp.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder                    { return &recorder{header: nethttp.Header{}} }
func (r *recorder) Header() nethttp.Header      { return r.header }
func (r *recorder) WriteHeader(code int)        { r.status = code }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

func TestInternalCreate(t *testing.T) {
	t.Parallel()
	b := setupInternal(t)

	t.Run("Created", func(t *testing.T) {
		t.Parallel()
		r := b.post(t, "/internal/jobs", b.writer(workerA), `{"client_id":"mis-alpha","eta":"90s"}`)
		require.Equal(t, 201, r.Status, string(r.Raw))
		data := r.Body["data"].(map[string]any)
		require.Equal(t, "PENDING", data["status"])
		require.Equal(t, []any{}, data["links"])
		require.Equal(t, "/internal/jobs/"+data["id"].(string), r.Header.Get("Location"))
		require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
		job, err := b.app.GetJob.Handle(context.Background(), app.GetJob{ID: data["id"].(string)})
		require.NoError(t, err)
		require.Equal(t, testkit.ClientA, job.ClientID)
		eta, err := time.Parse(time.RFC3339, data["eta"].(string))
		require.NoError(t, err)
		require.WithinDuration(t, job.CreatedAt.Add(90*time.Second), eta, time.Millisecond)
	})
	t.Run("IdempotentRepeatIs200WithTheSameJob", func(t *testing.T) {
		t.Parallel()
		h := b.writer(workerA)
		h.Set("Idempotency-Key", "req-42")
		first := b.post(t, "/internal/jobs", h, `{"client_id":"mis-alpha"}`)
		require.Equal(t, 201, first.Status, string(first.Raw))
		again := b.post(t, "/internal/jobs", h, `{"client_id":"mis-alpha"}`)
		require.Equal(t, 200, again.Status, string(again.Raw))
		require.Equal(t, first.Body["data"], again.Body["data"])
		other := b.post(t, "/internal/jobs", h, `{"client_id":"mis-beta"}`)
		require.Equal(t, 201, other.Status, "a key is per MIS client")
		h.Set("Idempotency-Key", "req-43")
		fresh := b.post(t, "/internal/jobs", h, `{"client_id":"mis-alpha"}`)
		require.Equal(t, 201, fresh.Status)
		require.NotEqual(t, first.Body["data"], fresh.Body["data"])
	})
	t.Run("KeyReusedWithAnotherRequestIs409", func(t *testing.T) {
		t.Parallel()
		h := b.writer(workerA)
		h.Set("Idempotency-Key", "req-eta")
		first := b.post(t, "/internal/jobs", h, `{"client_id":"mis-alpha","eta":"90s"}`)
		require.Equal(t, 201, first.Status, string(first.Raw))
		for _, c := range []struct {
			body   string
			status int
		}{
			{`{"client_id":"mis-alpha","eta":"90s"}`, 200},
			{`{"client_id":"mis-alpha","eta":"1m30s"}`, 200}, // the same duration
			{`{"client_id":"mis-alpha"}`, 200},               // no eta: nothing to differ
			{`{"client_id":"mis-alpha","eta":"91s"}`, 409},
			{`{"client_id":"mis-alpha","eta":"90.5s"}`, 409},
			{`{"client_id":"mis-alpha","eta":"2h"}`, 409},
		} {
			r := b.post(t, "/internal/jobs", h, c.body)
			require.Equal(t, c.status, r.Status, c.body+": "+string(r.Raw))
			if c.status == 409 {
				requireError(t, r, 409, "idempotency_key_reused", "Idempotency-Key was used for a different request")
			} else {
				require.Equal(t, first.Body["data"], r.Body["data"])
			}
		}
	})
	for name, c := range map[string]struct {
		body, msg string
		header    nethttp.Header
	}{
		"MissingClient":      {`{}`, "Invalid client_id: " + domain.ClientIDRule, nil},
		"BlankClient":        {`{"client_id":"  "}`, "Invalid client_id: " + domain.ClientIDRule, nil},
		"ControlInClient":    {`{"client_id":"a\nb"}`, "Invalid client_id: " + domain.ClientIDRule, nil},
		"LongClient":         {`{"client_id":"` + strings.Repeat("c", 256) + `"}`, "Invalid client_id: " + domain.ClientIDRule, nil},
		"SpaceInClient":      {`{"client_id":"bad id!"}`, "Invalid client_id: " + domain.ClientIDRule, nil},
		"NonASCIIClient":     {`{"client_id":"mis-é"}`, "Invalid client_id: " + domain.ClientIDRule, nil},
		"BadETA":             {`{"client_id":"mis-alpha","eta":"soon"}`, "Invalid eta: must be a positive duration such as 30s, at most 24h", nil},
		"NegativeETA":        {`{"client_id":"mis-alpha","eta":"-1s"}`, "Invalid eta: must be a positive duration such as 30s, at most 24h", nil},
		"ZeroETA":            {`{"client_id":"mis-alpha","eta":"0s"}`, "Invalid eta: must be a positive duration such as 30s, at most 24h", nil},
		"EmptyETA":           {`{"client_id":"mis-alpha","eta":""}`, "Invalid eta: must be a positive duration such as 30s, at most 24h", nil},
		"HugeETA":            {`{"client_id":"mis-alpha","eta":"25h"}`, "Invalid eta: must be a positive duration such as 30s, at most 24h", nil},
		"NumericETA":         {`{"client_id":"mis-alpha","eta":30}`, "Invalid eta: must be a string", nil},
		"NullETA":            {`{"client_id":"mis-alpha","eta":null}`, "Invalid eta: must be a string", nil},
		"EmptyIdempotency":   {`{"client_id":"mis-alpha"}`, "Invalid Idempotency-Key: must be 1 to 255 printable ASCII characters", nethttp.Header{"Idempotency-Key": {""}}},
		"BlankIdempotency":   {`{"client_id":"mis-alpha"}`, "Invalid Idempotency-Key: must be 1 to 255 printable ASCII characters", nethttp.Header{"Idempotency-Key": {"   "}}},
		"LongIdempotency":    {`{"client_id":"mis-alpha"}`, "Invalid Idempotency-Key: must be 1 to 255 printable ASCII characters", nethttp.Header{"Idempotency-Key": {strings.Repeat("k", 256)}}},
		"RepeatedIdempotent": {`{"client_id":"mis-alpha"}`, "Invalid Idempotency-Key: must not be repeated", nethttp.Header{"Idempotency-Key": {"a", "b"}}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := b.writer(workerA)
			for k, v := range c.header {
				h[k] = v
			}
			r := b.post(t, "/internal/jobs", h, c.body)
			requireError(t, r, 400, "validation_failed", c.msg)
		})
	}
}

// TestInternalBodiesAreStrict covers every kind of body encoding/json would
// take without complaint, on each route that reads a body.
func TestInternalBodiesAreStrict(t *testing.T) {
	t.Parallel()
	b := setupInternal(t)
	id := b.newJob(t)
	complete := "/internal/jobs/" + id + "/complete"
	fail := "/internal/jobs/" + id + "/fail"
	cases := []struct {
		name, path, body, msg string
	}{
		{"UnknownField", "/internal/jobs", `{"client_id":"mis-alpha","owner":"x"}`, "Invalid owner: is not a known field"},
		{"EmptyFieldName", "/internal/jobs", `{"client_id":"mis-alpha","":1}`, "Invalid body: is not a known field"},
		{"UnprintableFieldName", "/internal/jobs", `{"client_id":"mis-alpha","a\u0000b":1}`, "Invalid body: is not a known field"},
		{"CaseMismatchedField", "/internal/jobs", `{"Client_ID":"mis-alpha"}`, "Invalid Client_ID: is not a known field"},
		{"RepeatedField", "/internal/jobs", `{"client_id":"mis-alpha","client_id":"mis-beta"}`, "Invalid client_id: must not be repeated"},
		{"TrailingObject", "/internal/jobs", `{"client_id":"mis-alpha"}{}`, "Invalid body: must hold exactly one JSON object"},
		{"TrailingGarbage", "/internal/jobs", `{"client_id":"mis-alpha"} x`, "Invalid body: must hold exactly one JSON object"},
		{"WrongTypeString", "/internal/jobs", `{"client_id":7}`, "Invalid client_id: must be a string"},
		{"NullString", "/internal/jobs", `{"client_id":null}`, "Invalid client_id: must be a string"},
		{"InvalidUTF8Value", "/internal/jobs", "{\"client_id\":\"mis-\xff\"}", "Invalid client_id: must be valid UTF-8"},
		{"InvalidUTF8Key", "/internal/jobs", "{\"client_id\":\"mis-alpha\",\"\xfe\":1}", "Invalid body: must be valid UTF-8"},
		// An escaped lone surrogate is no character: encoding/json read it as
		// U+FFFD, and a failure message was stored so.
		{"LoneHighSurrogateClientID", "/internal/jobs", `{"client_id":"mis-\ud800"}`, "Invalid client_id: must be valid UTF-8"},
		{"LoneLowSurrogateETA", "/internal/jobs", `{"client_id":"mis-alpha","eta":"30s\udc00"}`, "Invalid eta: must be valid UTF-8"},
		{"LoneSurrogateKey", "/internal/jobs", `{"client_id":"mis-alpha","\ud800":1}`, "Invalid body: must be valid UTF-8"},
		{"LoneSurrogateEntity", complete, `{"links":[{"entity":"\ud800","href":"/p"}]}`, "Invalid links[0].entity: must be valid UTF-8"},
		{"LoneSurrogateHref", complete, `{"links":[{"entity":"composition","href":"/p\udfff"}]}`, "Invalid links[0].href: must be valid UTF-8"},
		{"LoneSurrogateMessage", fail, `{"code":422,"message":"bad \ud800 signature"}`, "Invalid message: must be valid UTF-8"},
		{"ReversedSurrogatesMessage", fail, `{"code":422,"message":"\udc00\ud800"}`, "Invalid message: must be valid UTF-8"},
		{"HighSurrogateThenLetterMessage", fail, `{"code":422,"message":"\ud800\u0041"}`, "Invalid message: must be valid UTF-8"},
		{"NotAnObject", "/internal/jobs", `["mis-alpha"]`, "Invalid body: must be an object"},
		{"Empty", "/internal/jobs", ``, "Invalid body: must be a JSON object"},
		{"Truncated", "/internal/jobs", `{"client_id":"mis-alpha"`, "Invalid body: is not well-formed JSON"},
		{"LinksNotArray", complete, `{"links":{"entity":"composition"}}`, "Invalid links: must be an array"},
		{"LinksNull", complete, `{"links":null}`, "Invalid links: must be an array"},
		{"LinksMissing", complete, `{}`, "Invalid links: is required"},
		{"LinkEntityWrongType", complete, `{"links":[{"entity":1,"href":"/p"}]}`, "Invalid links[0].entity: must be a string"},
		{"LinkUnknownField", complete, `{"links":[{"entity":"composition","href":"/p"},{"entity":"composition","href":"/q","rel":"x"}]}`, "Invalid links[1].rel: is not a known field"},
		{"LinkInvalidUTF8", complete, "{\"links\":[{\"entity\":\"composition\",\"href\":\"/p\xc3\"}]}", "Invalid links[0].href: must be valid UTF-8"},
		{"LinkNotObject", complete, `{"links":["/p"]}`, "Invalid links[0]: must be an object"},
		{"CodeString", fail, `{"code":"422","message":"m"}`, "Invalid code: must be an integer"},
		{"CodeFraction", fail, `{"code":422.5,"message":"m"}`, "Invalid code: must be an integer of at most 32 bits"},
		{"CodeOverflow", fail, `{"code":99999999999,"message":"m"}`, "Invalid code: must be an integer of at most 32 bits"},
		{"CodeExponent", fail, `{"code":4e2,"message":"m"}`, "Invalid code: must be an integer of at most 32 bits"},
		{"MessageBool", fail, `{"code":422,"message":true}`, "Invalid message: must be a string"},
		{"FailTrailing", fail, `{"code":422,"message":"m"}]`, "Invalid body: must hold exactly one JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := b.post(t, c.path, b.writer(workerA), c.body)
			requireError(t, r, 400, "validation_failed", c.msg)
		})
	}
	t.Run("SurrogatePairMessage", func(t *testing.T) {
		t.Parallel()
		r := b.post(t, "/internal/jobs/"+b.newJob(t)+"/fail", b.writer(workerA), `{"code":422,"message":"signed \ud83d\ude00"}`)
		require.Equal(t, 200, r.Status, string(r.Raw))
		require.Contains(t, string(r.Raw), `"message":"signed 😀"`)
	})
	t.Run("NoContentType", func(t *testing.T) {
		t.Parallel()
		h := b.writer(workerA)
		h.Del("Content-Type")
		requireError(t, b.post(t, "/internal/jobs", h, `{"client_id":"mis-alpha"}`), 400, "validation_failed", "Invalid Content-Type: must be application/json")
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		requireError(t, b.post(t, "/internal/jobs", h, `{"client_id":"mis-alpha"}`), 400, "validation_failed", "Invalid Content-Type: must be application/json")
	})
	for _, ct := range []string{"application/json; charset=utf-8", "application/json; charset=UTF-8", "Application/JSON;charset=\"utf-8\""} {
		t.Run("CharsetIsFine"+ct, func(t *testing.T) {
			t.Parallel()
			h := b.writer(workerA)
			h.Set("Content-Type", ct)
			require.Equal(t, 201, b.post(t, "/internal/jobs", h, `{"client_id":"mis-alpha"}`).Status)
		})
	}
	for _, c := range []struct {
		name string
		cts  []string
		msg  string
	}{
		{"Latin1", []string{"application/json; charset=latin1"}, "Invalid Content-Type: charset must be utf-8"},
		{"UTF16", []string{"application/json; charset=utf-16"}, "Invalid Content-Type: charset must be utf-8"},
		{"EmptyCharset", []string{`application/json; charset=""`}, "Invalid Content-Type: charset must be utf-8"},
		{"Twice", []string{"application/json", "application/json"}, "Invalid Content-Type: must be sent once"},
		{"TwiceDifferent", []string{"application/json", "text/plain"}, "Invalid Content-Type: must be sent once"},
	} {
		t.Run("ContentType"+c.name, func(t *testing.T) {
			t.Parallel()
			h := b.writer(workerA)
			h["Content-Type"] = c.cts
			requireError(t, b.post(t, "/internal/jobs", h, `{"client_id":"mis-alpha"}`), 400, "validation_failed", c.msg)
		})
	}
	t.Run("BodyOverTheCapIs413", func(t *testing.T) {
		t.Parallel()
		big := `{"client_id":"mis-alpha","eta":"` + strings.Repeat("9", 1100) + `"}`
		requireError(t, b.post(t, "/internal/jobs", b.writer(workerA), big), 413, "request_too_large", "Request body is too large")
	})
	t.Run("StillPending", func(t *testing.T) {
		t.Parallel()
		job, err := b.app.GetJob.Handle(context.Background(), app.GetJob{ID: id})
		require.NoError(t, err)
		require.Equal(t, domain.StatusPending, job.Status)
	})
}

func TestInternalOutcomes(t *testing.T) {
	t.Parallel()
	b := setupInternal(t)
	done := `{"links":[{"entity":"composition","href":"` + testHref + `"}]}`

	t.Run("CompleteThenRepeatThenConflict", func(t *testing.T) {
		t.Parallel()
		id := b.newJob(t)
		r := b.post(t, "/internal/jobs/"+id+"/complete", b.writer(workerA), done)
		require.Equal(t, 200, r.Status, string(r.Raw))
		data := r.Body["data"].(map[string]any)
		require.Equal(t, "DONE", data["status"])
		require.Equal(t, []any{map[string]any{"entity": "composition", "href": testHref}}, data["links"])
		again := b.post(t, "/internal/jobs/"+id+"/complete", b.writer(workerB), done)
		require.Equal(t, 200, again.Status, "a repeated identical outcome is 200")
		require.Equal(t, data, again.Body["data"])
		requireError(t, b.post(t, "/internal/jobs/"+id+"/fail", b.writer(workerB), `{"code":500,"message":"late"}`),
			409, "conflict", "Job already finished with a different outcome")
		requireError(t, b.post(t, "/internal/jobs/"+id+"/complete", b.writer(workerB), `{"links":[{"entity":"composition","href":"/other"}]}`),
			409, "conflict", "Job already finished with a different outcome")
	})
	t.Run("FailThenRepeatThenConflict", func(t *testing.T) {
		t.Parallel()
		id := b.newJob(t)
		r := b.post(t, "/internal/jobs/"+id+"/fail", b.writer(workerA), `{"code":422,"message":"Signature is not valid"}`)
		require.Equal(t, 200, r.Status, string(r.Raw))
		data := r.Body["data"].(map[string]any)
		require.Equal(t, "FAILED", data["status"])
		require.Equal(t, map[string]any{"code": float64(422), "message": "Signature is not valid"}, data["error"])
		require.Equal(t, 200, b.post(t, "/internal/jobs/"+id+"/fail", b.writer(workerA), `{"code":422,"message":"Signature is not valid"}`).Status)
		requireError(t, b.post(t, "/internal/jobs/"+id+"/fail", b.writer(workerA), `{"code":422,"message":"other"}`), 409, "conflict", "")
		requireError(t, b.post(t, "/internal/jobs/"+id+"/complete", b.writer(workerA), done), 409, "conflict", "")
	})
	for name, c := range map[string]struct{ route, body, msg string }{
		"NoLinks":        {"complete", `{"links":[]}`, "Invalid links: a DONE job needs at least one link"},
		"NoComposition":  {"complete", `{"links":[{"entity":"encounter","href":"/patients/p1/encounter/e1"}]}`, "Invalid links: a DONE job needs a composition link"},
		"RelativeHref":   {"complete", `{"links":[{"entity":"composition","href":"patients/p1"}]}`, "Invalid links: every href must be an absolute path"},
		"AbsoluteURL":    {"complete", `{"links":[{"entity":"composition","href":"https://evil.example/x"}]}`, "Invalid links: every href must be an absolute path"},
		"HrefWithQuery":  {"complete", `{"links":[{"entity":"composition","href":"/p?x=1"}]}`, "Invalid links: every href must be an absolute path"},
		"BlankEntity":    {"complete", `{"links":[{"entity":" ","href":"/p"}]}`, "Invalid links: every link needs an entity"},
		"MissingHref":    {"complete", `{"links":[{"entity":"composition"}]}`, "Invalid links: every href must be an absolute path"},
		"ZeroCode":       {"fail", `{"code":0,"message":"m"}`, "Invalid code: " + domain.FailureCodeRule},
		"MissingCode":    {"fail", `{"message":"m"}`, "Invalid code: " + domain.FailureCodeRule},
		"NegativeCode":   {"fail", `{"code":-5,"message":"m"}`, "Invalid code: " + domain.FailureCodeRule},
		"CodeAbove999":   {"fail", `{"code":1000,"message":"m"}`, "Invalid code: " + domain.FailureCodeRule},
		"BlankMessage":   {"fail", `{"code":500,"message":" "}`, "Invalid message: a FAILED job needs a message"},
		"MissingMessage": {"fail", `{"code":500}`, "Invalid message: a FAILED job needs a message"},
	} {
		t.Run("DomainRule"+name, func(t *testing.T) {
			t.Parallel()
			id := b.newJob(t)
			requireError(t, b.post(t, "/internal/jobs/"+id+"/"+c.route, b.writer(workerA), c.body), 400, "validation_failed", c.msg)
		})
	}
	for _, route := range []string{"complete", "fail"} {
		body := map[string]string{"complete": done, "fail": `{"code":1,"message":"m"}`}[route]
		t.Run("UnknownJob/"+route, func(t *testing.T) {
			t.Parallel()
			requireError(t, b.post(t, "/internal/jobs/"+domain.NewID().String()+"/"+route, b.writer(workerA), body), 404, "not_found", "Task not found")
		})
		t.Run("BadID/"+route, func(t *testing.T) {
			t.Parallel()
			requireError(t, b.post(t, "/internal/jobs/{"+domain.NewID().String()+"}/"+route, b.writer(workerA), body), 400, "validation_failed", "Invalid id: must be a UUID")
		})
	}
	t.Run("GetAnyClientsJob", func(t *testing.T) {
		t.Parallel()
		r := b.post(t, "/internal/jobs", b.writer(workerA), `{"client_id":"mis-beta"}`)
		require.Equal(t, 201, r.Status)
		id := r.Body["data"].(map[string]any)["id"].(string)
		got := b.do(t, "GET", "/internal/jobs/"+strings.ToUpper(id), b.writer(workerB), nil)
		require.Equal(t, 200, got.Status)
		require.Equal(t, r.Body["data"], got.Body["data"])
		requireError(t, b.do(t, "GET", "/internal/jobs/"+domain.NewID().String(), b.writer(workerB), nil), 404, "not_found", "Task not found")
		requireError(t, b.do(t, "GET", "/internal/jobs/nope", b.writer(workerB), nil), 400, "validation_failed", "Invalid id: must be a UUID")
	})
	t.Run("MethodNotAllowed", func(t *testing.T) {
		t.Parallel()
		id := domain.NewID().String()
		for path, allow := range map[string]string{
			"/internal/jobs": "POST", "/internal/jobs/" + id: "GET, HEAD", "/internal/jobs/" + id + "/fail": "POST",
		} {
			r := b.do(t, "DELETE", path, b.writer(workerA), nil)
			requireError(t, r, 405, "method_not_allowed", "Method DELETE is not allowed")
			require.Equal(t, allow, r.Header.Get("Allow"), path)
		}
	})
	t.Run("NoTokenInLogs", func(t *testing.T) {
		t.Parallel()
		h := b.writer("worker-rogue")
		r := b.do(t, "GET", "/internal/jobs/"+domain.NewID().String(), h, nil)
		require.Equal(t, 401, r.Status)
		token := strings.TrimPrefix(h.Get("Authorization"), "Bearer ")
		for _, e := range b.logs.All() {
			raw, err := json.Marshal(e.ContextMap())
			require.NoError(t, err)
			require.NotContains(t, string(raw), token)
		}
	})
}

// TestInternalResponsesMatchOpenAPI validates real answers against
// api/internal.yaml.
func TestInternalResponsesMatchOpenAPI(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t, api.Internal)
	b := setupInternal(t)
	doneID, failedID, pendingID := b.newJob(t), b.newJob(t), b.newJob(t)
	links := `{"links":[{"entity":"composition","href":"` + testHref + `"}]}`
	require.Equal(t, 200, b.post(t, "/internal/jobs/"+doneID+"/complete", b.writer(workerA), links).Status)
	require.Equal(t, 200, b.post(t, "/internal/jobs/"+failedID+"/fail", b.writer(workerA), `{"code":422,"message":"no"}`).Status)
	keyed := b.writer(workerA)
	keyed.Set("Idempotency-Key", "k1")
	readToken := nethttp.Header{"Authorization": {"Bearer " + b.kit.Token(testkit.ClientA)}, "Content-Type": {"application/json"}}
	requests := []struct {
		name, method, path, body string
		header                   nethttp.Header
		status                   int
		fault                    error
	}{
		{"201", "POST", "/internal/jobs", `{"client_id":"mis-alpha"}`, keyed, 201, nil},
		{"200Repeat", "POST", "/internal/jobs", `{"client_id":"mis-alpha"}`, keyed, 200, nil},
		{"409KeyReused", "POST", "/internal/jobs", `{"client_id":"mis-alpha","eta":"7m"}`, keyed, 409, nil},
		{"400Create", "POST", "/internal/jobs", `{"client":"mis-alpha"}`, b.writer(workerA), 400, nil},
		{"401", "POST", "/internal/jobs", `{"client_id":"mis-alpha"}`, nethttp.Header{}, 401, nil},
		{"403", "POST", "/internal/jobs", `{"client_id":"mis-alpha"}`, readToken, 403, nil},
		{"413", "POST", "/internal/jobs", `{"client_id":"` + strings.Repeat("a", 2048) + `"}`, b.writer(workerA), 413, nil},
		{"200Complete", "POST", "/internal/jobs/" + doneID + "/complete", links, b.writer(workerA), 200, nil},
		{"409Complete", "POST", "/internal/jobs/" + failedID + "/complete", links, b.writer(workerA), 409, nil},
		{"404Complete", "POST", "/internal/jobs/" + domain.NewID().String() + "/complete", links, b.writer(workerA), 404, nil},
		{"200Fail", "POST", "/internal/jobs/" + failedID + "/fail", `{"code":422,"message":"no"}`, b.writer(workerA), 200, nil},
		{"409Fail", "POST", "/internal/jobs/" + doneID + "/fail", `{"code":422,"message":"no"}`, b.writer(workerA), 409, nil},
		{"400Fail", "POST", "/internal/jobs/" + pendingID + "/fail", `{"code":0,"message":"no"}`, b.writer(workerA), 400, nil},
		{"200GetPending", "GET", "/internal/jobs/" + pendingID, "", b.writer(workerA), 200, nil},
		{"200GetDone", "GET", "/internal/jobs/" + doneID, "", b.writer(workerA), 200, nil},
		{"200GetFailed", "GET", "/internal/jobs/" + failedID, "", b.writer(workerA), 200, nil},
		{"404Get", "GET", "/internal/jobs/" + domain.NewID().String(), "", b.writer(workerA), 404, nil},
		{"400Get", "GET", "/internal/jobs/nope", "", b.writer(workerA), 400, nil},
		{"405", "PUT", "/internal/jobs/" + pendingID, "", b.writer(workerA), 405, nil},
		{"431", "GET", "/internal/jobs/" + pendingID, "", nethttp.Header{"X-Pad": {strings.Repeat("x", 17<<10)}}, 431, nil},
		{"500", "GET", "/internal/jobs/" + pendingID, "", b.writer(workerA), 500, errors.New("boom")},
		{"503", "GET", "/internal/jobs/" + pendingID, "", b.writer(workerA), 503, domain.ErrUnavailable},
	}
	for _, rq := range requests {
		t.Run(rq.name, func(t *testing.T) {
			// Not parallel: some cases switch the shared repository's fault,
			// and the idempotent repeat follows its create.
			b.repo.err = rq.fault
			defer func() { b.repo.err = nil }()
			var body io.Reader
			if rq.body != "" {
				body = strings.NewReader(rq.body)
			}
			r := b.do(t, rq.method, rq.path, rq.header, body)
			require.Equal(t, rq.status, r.Status, string(r.Raw))

			requireMatchesOpenAPI(t, doc, rq.method, rq.path, r)
		})
	}
}
