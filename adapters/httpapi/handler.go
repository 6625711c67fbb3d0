// Package httpapi is the inbound HTTP adapter: the public status endpoint on
// gorilla/mux, with the envelope and error mapping of docs/http-api.md and
// one middleware per concern (mid_*.go).
package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	nethttp "net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/api"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
)

// JobPath is the route of the status endpoint.
const JobPath = jobPrefix + "{asyncJobId}"

// jobPrefix is JobPath up to its variable.
const jobPrefix = "/patients/composition/job/"

// HandlerConfig tunes the public API.
type HandlerConfig struct {
	// TerminalMaxAge is the Cache-Control max-age of DONE and FAILED jobs.
	TerminalMaxAge time.Duration
	// MaxInFlight caps requests being served at once; past it the service
	// answers 503 at once instead of queueing. Zero means no cap.
	MaxInFlight int
	// LogSampleSuccess logs one in N successful answers (2xx, 304) in the
	// access log: 1 logs every one, 0 none. Errors are always logged.
	LogSampleSuccess int
	// Tracer makes the server and use-case spans; nil means no tracing.
	Tracer trace.TracerProvider
	// StreamHeartbeat is how long an event stream may stay silent before
	// a ": ping" comment keeps proxies from closing it.
	StreamHeartbeat time.Duration
	// StreamRetry is the reconnect delay an event stream suggests
	// ("retry:"), at its start and when the service ends it.
	StreamRetry time.Duration
	// AuthLeeway is the clock skew the token verifier tolerates on exp
	// (the same setting): an event stream ends at exp plus this.
	AuthLeeway time.Duration
	// EncodedAnswers bounds how many pre-encoded job answers (one per job
	// version and presented eta) are kept; zero encodes every answer anew.
	EncodedAnswers int
}

// DefaultHandlerConfig returns sensible defaults.
func DefaultHandlerConfig() HandlerConfig {
	return HandlerConfig{TerminalMaxAge: time.Hour, MaxInFlight: 8192, LogSampleSuccess: 1, StreamHeartbeat: 15 * time.Second,
		StreamRetry: time.Second, EncodedAnswers: 10_000}
}

// Observer is told about every request and every refused credential
// (metrics); NopObserver ignores them.
type Observer interface {
	ObserveRequest(route, method string, status int, d time.Duration, held bool)
	AuthFailure(credential, reason string)
}

// NopObserver is an Observer that records nothing.
type NopObserver struct{}

// ObserveRequest implements Observer.
func (NopObserver) ObserveRequest(string, string, int, time.Duration, bool) {}

// AuthFailure implements Observer.
func (NopObserver) AuthFailure(string, string) {}

// Handler serves the public API.
type Handler struct {
	app    *app.Public
	logger *zap.Logger
	cfg    HandlerConfig
	obs    Observer
	enc    *answers
}

// OpenAPIPath serves the API description.
const OpenAPIPath = "/openapi.yaml"

// NewHandler returns the public API as an http.Handler. It panics on nil
// deps. Its routes are declared once, in publicRoutes, which routes and
// labels every request.
func NewHandler(a *app.Public, logger *zap.Logger, cfg HandlerConfig, obs Observer) nethttp.Handler {
	h, routes := newPublic(a, logger, cfg, obs)
	return edge(routes, logger, obs, h.edgeConfig())
}

// newPublic returns the public API's handler and its routing table.
func newPublic(a *app.Public, logger *zap.Logger, cfg HandlerConfig, obs Observer) (*Handler, *table) {
	if a == nil || logger == nil || obs == nil {
		panic("httpapi: nil dependency for NewHandler")
	}
	if cfg.StreamHeartbeat <= 0 || cfg.StreamRetry <= 0 {
		def := DefaultHandlerConfig()
		cfg.StreamHeartbeat, cfg.StreamRetry = def.StreamHeartbeat, def.StreamRetry
	}
	enc, err := newAnswers(cfg)
	if err != nil {
		panic("httpapi: " + err.Error()) // only for a size lru refuses, which newAnswers never passes
	}
	h := &Handler{app: a, logger: logger, cfg: cfg, obs: obs, enc: enc}
	return h, h.publicRoutes()
}

// publicRoutes is the public API's one routing table: its routes, their
// labels and methods.
func (h *Handler) publicRoutes() *table {
	get := []string{nethttp.MethodGet, nethttp.MethodHead}
	return newTable(nethttp.HandlerFunc(noRoute), nethttp.HandlerFunc(methodNotAllowed),
		route{template: JobPath, methods: get, serve: h.getJob}, // first: nearly every request is a poll
		route{template: JobsPath, methods: get, serve: h.listJobs},
		route{template: EventsPath, methods: get, serve: h.streamEvents},
		route{template: OpenAPIPath, methods: get, serve: serveOpenAPI},
	)
}

// edgeConfig is the middleware configuration of the public API.
func (h *Handler) edgeConfig() edgeConfig {
	return edgeConfig{maxInFlight: h.cfg.MaxInFlight, sampleSuccess: h.cfg.LogSampleSuccess, tracer: h.cfg.Tracer}
}

// noRoute answers a path no route matches.
func noRoute(w nethttp.ResponseWriter, r *nethttp.Request) {
	writeProblem(w, r, problem{status: nethttp.StatusNotFound, kind: typeNotFound, message: msgNoRoute})
}

// methodNotAllowed answers a method the matched route does not serve.
func methodNotAllowed(w nethttp.ResponseWriter, r *nethttp.Request) {
	writeProblem(w, r, problem{status: nethttp.StatusMethodNotAllowed, kind: typeMethod, message: "Method " + r.Method + " is not allowed"})
}

func serveOpenAPI(w nethttp.ResponseWriter, r *nethttp.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/yaml")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Content-Length", strconv.Itoa(len(api.OpenAPI)))
	if r.Method != nethttp.MethodHead {
		_, _ = w.Write(api.OpenAPI)
	}
}

// errMalformed is a request the service will not read, whoever sent it.
var errMalformed = &domain.ValidationError{Field: "request", Reason: "malformed"}

func (h *Handler) getJob(w nethttp.ResponseWriter, r *nethttp.Request) {
	p, _, ok := h.principal(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	wait := preferredWait(r.Header[hdrPrefer])
	if wait > 0 && ifMatchNeverPasses(r.Header) {
		wait = 0 // the answer is 412 whatever the job becomes: nothing to wait for
	}
	gctx, span := useCaseSpan(ctx, "GetJobStatus")
	st, err := h.app.GetJobStatus.Handle(gctx, app.GetJobStatus{Principal: p, ID: statusJobID(r), Wait: wait})
	endSpan(span, err)
	if err != nil {
		if ctx.Err() != nil {
			return // the client left while waiting: nobody to answer
		}
		h.fail(w, r, asPathParam(err, "id", "asyncJobId"), "")
		return
	}
	writeJob(w, r, st, h.enc)
}

// statusJobID is the asyncJobId of the status path, as sent (ParseID validates
// it). Routed here by the table, r's path is the status route.
func statusJobID(r *nethttp.Request) string {
	id, _ := pathVar(r, jobPrefix)
	return id
}

// preferredWait reads "Prefer: wait=N" (RFC 7240 section 4.3); the use
// case caps it. Anything unreadable means no wait; a number too large to
// represent is the largest (deltaSeconds).
func preferredWait(headers []string) time.Duration {
	for _, h := range headers {
		for _, pref := range strings.Split(h, ",") {
			pref, _, _ = strings.Cut(pref, ";")
			name, value, ok := strings.Cut(strings.TrimSpace(pref), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(name), "wait") {
				continue
			}
			n, ok := deltaSeconds(unquote(strings.TrimSpace(value)))
			if !ok || n <= 0 {
				return 0
			}
			return time.Duration(min(n, 3600)) * time.Second
		}
	}
	return 0
}

// unquote returns a preference value written as a token or as one
// quoted-string (RFC 7240 section 2, RFC 9110 section 5.6.4) without its
// quotes; an unbalanced quote is left, so it is not a number.
func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

// fail answers err. token is the presented bearer token, or "" where none
// was read; a refused token is logged only as a short hash, which lets
// operators match failures of one token without ever logging it.
func (h *Handler) fail(w nethttp.ResponseWriter, r *nethttp.Request, err error, token string) {
	p := classify(err)
	var limited *domain.RateLimitedError
	if errors.As(err, &limited) {
		setClientID(r.Context(), limited.ClientID) // the limiter knew who asked
	}
	switch {
	case p.status >= 500:
		fields := append(requestFields(r.Context()), zap.Error(err))
		var unreadable *domain.UnreadableJobError
		if errors.As(err, &unreadable) {
			fields = append(fields, unreadableFields(unreadable)...)
		}
		h.logger.Error("request failed", fields...)
	case p.status == nethttp.StatusUnauthorized:
		var authErr *domain.AuthError
		if errors.As(err, &authErr) {
			h.obs.AuthFailure(string(authErr.Credential), authErr.Reason)
			fields := append(requestFields(r.Context()),
				zap.String("credential", string(authErr.Credential)), zap.String("reason", authErr.Reason))
			if authErr.Credential == domain.CredentialToken && token != "" {
				fields = append(fields, zap.String("token_sha256", tokenRef(token)))
			}
			h.logger.Info("authentication failed", fields...)
		}
	}
	writeProblem(w, r, p)
}

// unreadableFields name a job the store holds but cannot read, for the
// operator who is to fix its row (docs/operations.md).
func unreadableFields(e *domain.UnreadableJobError) []zap.Field {
	return []zap.Field{zap.String("job_id", e.ID.String()), zap.String("job_client_id", e.ClientID),
		zap.String("column", e.Field), zap.String("reason", e.Reason)}
}

// tokenRef is the first 12 hex digits of the token's SHA-256.
func tokenRef(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:6])
}

// credentials reads exactly one Authorization header with the Bearer scheme
// and exactly one api-key header. Credentials in the query are never read.
func credentials(r *nethttp.Request) (app.Credentials, error) {
	keys := r.Header[hdrAPIKey]
	if len(keys) != 1 || keys[0] == "" {
		return app.Credentials{}, &domain.AuthError{Credential: domain.CredentialAPIKey, Reason: "missing or repeated api-key header"}
	}
	auths := r.Header[hdrAuthorization]
	if len(auths) != 1 {
		return app.Credentials{}, &domain.AuthError{Credential: domain.CredentialToken, Reason: "missing or repeated Authorization header"}
	}
	token, ok := bearer(auths[0])
	if !ok {
		return app.Credentials{}, &domain.AuthError{Credential: domain.CredentialToken, Reason: "not a Bearer token"}
	}
	return app.Credentials{Token: token, APIKey: keys[0]}, nil
}

// bearer extracts the token from "Bearer <token>" (scheme case-insensitive,
// RFC 7235); anything after the token is refused.
func bearer(v string) (string, bool) {
	const scheme = "bearer"
	if len(v) <= len(scheme)+1 || !strings.EqualFold(v[:len(scheme)], scheme) || v[len(scheme)] != ' ' {
		return "", false
	}
	token := strings.TrimLeft(v[len(scheme):], " ")
	// IndexByte, not ContainsAny: a token is some 700 bytes, read on every
	// request, and IndexByte scans them many at a time.
	if token == "" || strings.IndexByte(token, ' ') >= 0 || strings.IndexByte(token, '\t') >= 0 || strings.IndexByte(token, ',') >= 0 {
		return "", false
	}
	return token, true
}

// asPathParam renames the field of a validation error to the name the
// caller used: the domain knows the job's id, the public path calls it
// asyncJobId.
func asPathParam(err error, field, param string) error {
	var ve *domain.ValidationError
	if errors.As(err, &ve) && ve.Field == field {
		renamed := *ve
		renamed.Field = param
		return &renamed
	}
	return err
}
