package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	nethttp "net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// Routes of the write API for workers.
const (
	InternalJobsPath     = "/internal/jobs"
	InternalJobPath      = "/internal/jobs/{id}"
	InternalCompletePath = "/internal/jobs/{id}/complete"
	InternalFailPath     = "/internal/jobs/{id}/fail"
)

// MaxInternalBodyBytes is the largest body cap InternalConfig accepts.
const MaxInternalBodyBytes = 1 << 20

// CheckMaxBodyBytes refuses a body cap the write API cannot run with, in
// words a setting's message can follow its name with.
func CheckMaxBodyBytes(n int64) error {
	if n <= 0 || n > MaxInternalBodyBytes {
		return fmt.Errorf("must be in 1..%d; got %d", MaxInternalBodyBytes, n)
	}
	return nil
}

// InternalConfig configures the write API. Its zero value is invalid: the
// caller states every limit.
type InternalConfig struct {
	// Writers are the token client_ids allowed to write; empty: nobody.
	Writers []string
	// MaxBodyBytes caps request bodies; larger bodies answer 413.
	MaxBodyBytes int64
	// MaxInFlight caps requests served at once (503 past it); zero: no cap.
	MaxInFlight int
}

// Validate reports a config the write API cannot run with.
func (c InternalConfig) Validate() error {
	if err := CheckMaxBodyBytes(c.MaxBodyBytes); err != nil {
		return fmt.Errorf("internal api: max body bytes %w", err)
	}
	if c.MaxInFlight < 0 {
		return fmt.Errorf("internal api: max in flight %d must not be negative", c.MaxInFlight)
	}
	for _, w := range c.Writers {
		if strings.TrimSpace(w) == "" || w != strings.TrimSpace(w) {
			return fmt.Errorf("internal api: writer client id %q must be non-empty without surrounding spaces", w)
		}
	}
	return nil
}

type internalHandler struct {
	ops     *app.Operator
	tokens  ports.TokenVerifier
	writers map[string]bool
	maxBody int64
	logger  *zap.Logger
	obs     Observer
	errs    *Handler // answers, logs and counts errors as the public API does
}

// NewInternalHandler returns the write API for workers as an http.Handler,
// with the public API's envelope and error mapping. Callers authenticate
// with a bearer token only (no api-key) carrying
// domain.ScopeCompositionJobWrite whose client_id is in cfg.Writers. It
// panics on nil deps and refuses an invalid cfg.
func NewInternalHandler(ops *app.Operator, tokens ports.TokenVerifier, logger *zap.Logger, cfg InternalConfig, obs Observer) (nethttp.Handler, error) {
	if tokens == nil || logger == nil || obs == nil {
		panic("http: nil dependency for NewInternalHandler")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &internalHandler{ops: ops, tokens: tokens, writers: map[string]bool{}, maxBody: cfg.MaxBodyBytes,
		logger: logger, obs: obs, errs: &Handler{logger: logger, obs: obs}}
	for _, w := range cfg.Writers {
		h.writers[w] = true
	}
	r := mux.NewRouter()
	r.SkipClean(true)
	r.UseEncodedPath()
	r.HandleFunc(InternalJobsPath, h.create).Methods(nethttp.MethodPost)
	r.HandleFunc(InternalCompletePath, h.complete).Methods(nethttp.MethodPost)
	r.HandleFunc(InternalFailPath, h.fail).Methods(nethttp.MethodPost)
	r.HandleFunc(InternalJobPath, h.get).Methods(nethttp.MethodGet, nethttp.MethodHead)
	r.NotFoundHandler = nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		writeProblem(w, r, problem{status: nethttp.StatusNotFound, kind: typeNotFound, message: "Resource not found"})
	})
	return edge(newMuxDispatcher(r), logger, obs, edgeConfig{maxInFlight: cfg.MaxInFlight, sampleSuccess: 1}), nil
}

// authorize checks, in this order: a valid bearer token (401), the write
// scope (403, so a reading token always learns what it lacks), and that the
// token's client is a configured writer (401: unknown to this API).
func (h *internalHandler) authorize(w nethttp.ResponseWriter, r *nethttp.Request) bool {
	auths := r.Header.Values("Authorization")
	token, ok := "", len(auths) == 1
	if ok {
		token, ok = bearer(auths[0])
	}
	if !ok {
		h.errs.fail(w, r, &domain.AuthError{Credential: domain.CredentialToken, Reason: "missing, repeated or not a Bearer token"}, "")
		return false
	}
	p, err := h.tokens.Verify(r.Context(), token)
	if err != nil {
		h.errs.fail(w, r, err, token)
		return false
	}
	setClientID(r.Context(), p.ClientID)
	if err := p.Require(domain.ScopeCompositionJobWrite); err != nil {
		h.errs.fail(w, r, err, "")
		return false
	}
	if !h.writers[p.ClientID] {
		h.errs.fail(w, r, &domain.AuthError{Credential: domain.CredentialToken, Reason: "client is not a configured writer"}, token)
		return false
	}
	return true
}

// jobID validates the {id} path parameter.
func jobID(r *nethttp.Request) (string, error) {
	id := mux.Vars(r)["id"]
	if _, err := domain.ParseID(id); err != nil {
		return "", &domain.ValidationError{Field: "id", Reason: "must be a UUID"}
	}
	return id, nil
}

// readBody reads a JSON body of at most maxBody bytes into v, strictly.
func (h *internalHandler) readBody(w nethttp.ResponseWriter, r *nethttp.Request, v any) error {
	cts := r.Header.Values("Content-Type")
	if len(cts) > 1 {
		return &domain.ValidationError{Field: "Content-Type", Reason: "must be sent once"}
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &domain.ValidationError{Field: "Content-Type", Reason: "must be application/json"}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return &domain.ValidationError{Field: "Content-Type", Reason: "charset must be utf-8"}
	}
	raw, err := io.ReadAll(nethttp.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooLarge *nethttp.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errBodyTooLarge
		}
		return errMalformed
	}
	return decodeStrict(raw, v)
}

func (h *internalHandler) refuse(w nethttp.ResponseWriter, r *nethttp.Request, err error) {
	if errors.Is(err, errBodyTooLarge) {
		writeProblem(w, r, problem{status: nethttp.StatusRequestEntityTooLarge, kind: typeTooLarge, message: "Request body is too large"})
		return
	}
	h.errs.fail(w, r, err, "")
}

type createRequest struct {
	ClientID string  `json:"client_id"`
	ETA      *string `json:"eta"` // nil: absent, estimated; "" is no duration
}

func (h *internalHandler) create(w nethttp.ResponseWriter, r *nethttp.Request) {
	if !h.authorize(w, r) {
		return
	}
	var in createRequest
	if err := h.readBody(w, r, &in); err != nil {
		h.refuse(w, r, err)
		return
	}
	cmd, err := createCommand(in, r.Header.Values("Idempotency-Key"))
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	job, err := h.ops.CreateJob.Handle(r.Context(), cmd)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	status := nethttp.StatusCreated
	if job.ID.String() != cmd.ID {
		// The store returned the pending job this key created before.
		status = nethttp.StatusOK
	}
	w.Header().Set("Location", InternalJobsPath+"/"+job.ID.String())
	writeJobData(w, r, status, job)
}

// createCommand checks the create request and names a fresh id, so the
// handler can tell a new job (that id) from an idempotent repeat.
func createCommand(in createRequest, keys []string) (app.CreateJob, error) {
	if !domain.ValidClientID(in.ClientID) {
		return app.CreateJob{}, &domain.ValidationError{Field: "client_id", Reason: domain.ClientIDRule}
	}
	var eta time.Duration
	if in.ETA != nil {
		d, err := time.ParseDuration(*in.ETA)
		if err != nil {
			return app.CreateJob{}, &domain.ValidationError{Field: "eta", Reason: domain.ETARule}
		}
		if err := domain.CheckETA(d); err != nil {
			return app.CreateJob{}, err
		}
		eta = d
	}
	key := ""
	switch len(keys) {
	case 0:
	case 1:
		key = keys[0]
		if !domain.ValidIdempotencyKey(key) {
			return app.CreateJob{}, &domain.ValidationError{Field: "Idempotency-Key", Reason: domain.IdempotencyKeyRule}
		}
	default:
		return app.CreateJob{}, &domain.ValidationError{Field: "Idempotency-Key", Reason: "must not be repeated"}
	}
	return app.CreateJob{ClientID: in.ClientID, IdempotencyKey: key, ID: domain.NewID().String(), ETA: eta}, nil
}

type completeRequest struct {
	Links []linkRequest `json:"links"`
}

type linkRequest struct {
	Entity string `json:"entity"`
	Href   string `json:"href"`
}

func (h *internalHandler) complete(w nethttp.ResponseWriter, r *nethttp.Request) {
	h.finish(w, r, func(ctx context.Context, id string) (domain.Job, error) {
		var in completeRequest
		if err := h.readBody(w, r, &in); err != nil {
			return domain.Job{}, err
		}
		if in.Links == nil {
			return domain.Job{}, &domain.ValidationError{Field: "links", Reason: "is required"}
		}
		links := make([]domain.Link, len(in.Links))
		for i, l := range in.Links {
			links[i] = domain.Link{Entity: l.Entity, Href: l.Href}
		}
		return h.ops.CompleteJob.Handle(ctx, app.CompleteJob{ID: id, Links: links})
	})
}

type failRequest struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (h *internalHandler) fail(w nethttp.ResponseWriter, r *nethttp.Request) {
	h.finish(w, r, func(ctx context.Context, id string) (domain.Job, error) {
		var in failRequest
		if err := h.readBody(w, r, &in); err != nil {
			return domain.Job{}, err
		}
		return h.ops.FailJob.Handle(ctx, app.FailJob{ID: id, Code: in.Code, Message: in.Message})
	})
}

// finish runs an outcome: authorization, then the id, then the body and
// the use case. A repeated identical outcome answers 200 like the first.
func (h *internalHandler) finish(w nethttp.ResponseWriter, r *nethttp.Request, run func(context.Context, string) (domain.Job, error)) {
	if !h.authorize(w, r) {
		return
	}
	id, err := jobID(r)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	job, err := run(r.Context(), id)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	writeJobData(w, r, nethttp.StatusOK, job)
}

func (h *internalHandler) get(w nethttp.ResponseWriter, r *nethttp.Request) {
	if !h.authorize(w, r) {
		return
	}
	if r.ContentLength > 0 || len(r.TransferEncoding) > 0 {
		h.refuse(w, r, errMalformed)
		return
	}
	id, err := jobID(r)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	job, err := h.ops.GetJob.Handle(r.Context(), app.GetJob{ID: id})
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	writeJobData(w, r, nethttp.StatusOK, job)
}

type jobEnvelope struct {
	Data JobData `json:"data"`
	Meta Meta    `json:"meta"`
}

// writeJobData answers with the job in the envelope; write API answers are
// never cached.
func writeJobData(w nethttp.ResponseWriter, r *nethttp.Request, status int, j domain.Job) {
	w.Header().Set("Cache-Control", "no-store")
	write(w, r, status, jobEnvelope{Data: toJobData(j), Meta: meta(r, status)})
}
