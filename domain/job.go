package domain

import (
	"slices"
	"strings"
	"time"
)

// Link points at a resource a finished job produced.
type Link struct {
	Entity string
	Href   string
}

// Failure says why a job failed.
type Failure struct {
	Code    int
	Message string
}

// Job is an asynchronous composition job as the registry tracks it.
type Job struct {
	ID       ID
	ClientID string // the MIS client that created the job and alone may see it
	// IdempotencyKey, when set, makes a repeated create of the same request
	// return the job still pending instead of starting another.
	IdempotencyKey string
	Status         Status
	ETA            time.Time
	Links          []Link
	Failure        *Failure // set only when Status is StatusFailed
	CreatedAt      time.Time
	UpdatedAt      time.Time
	FinishedAt     *time.Time
	// Version orders the stored states of a job: every change a store
	// records gets a larger one, whoever makes it, so of two states of the
	// same job the one with the larger Version is the newer. Zero means the
	// job was never stored.
	Version int64
}

// NewParams are the inputs of New.
type NewParams struct {
	ID             ID
	ClientID       string
	IdempotencyKey string
	ETA            time.Time
	Now            time.Time
}

// MaxIdempotencyKeyLength bounds idempotency keys.
const MaxIdempotencyKeyLength = 255

// IdempotencyKeyRule says in words what ValidIdempotencyKey accepts, for
// messages.
const IdempotencyKeyRule = "must be 1 to 255 printable ASCII characters"

// ValidIdempotencyKey reports whether k may be an idempotency key: 1 to
// MaxIdempotencyKeyLength printable ASCII characters, what an HTTP header
// carries safely. Every transport (the write API's Idempotency-Key, the
// jobs command, a Go caller of the use cases) accepts the same keys.
func ValidIdempotencyKey(k string) bool {
	if k == "" || len(k) > MaxIdempotencyKeyLength {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// CheckIdempotencyKey returns a *ValidationError naming idempotency_key
// unless k is empty (no key) or a valid key (ValidIdempotencyKey); text
// PostgreSQL cannot store and an overlong key are named as such first.
func CheckIdempotencyKey(k string) error {
	if err := CheckText("idempotency_key", k); err != nil {
		return err
	}
	if len(k) > MaxIdempotencyKeyLength {
		return &ValidationError{Field: "idempotency_key", Reason: "must be at most 255 bytes"}
	}
	if k != "" && !ValidIdempotencyKey(k) {
		return &ValidationError{Field: "idempotency_key", Reason: IdempotencyKeyRule}
	}
	return nil
}

// New returns a PENDING job. Every job starts pending.
func New(p NewParams) (Job, error) {
	if _, err := ParseID(string(p.ID)); err != nil {
		return Job{}, err
	}
	if strings.TrimSpace(p.ClientID) == "" {
		return Job{}, &ValidationError{Field: "client", Reason: "must not be empty"}
	}
	if err := CheckClientID("client", p.ClientID); err != nil {
		return Job{}, err
	}
	if err := CheckIdempotencyKey(p.IdempotencyKey); err != nil {
		return Job{}, err
	}
	if p.ETA.IsZero() {
		return Job{}, &ValidationError{Field: "eta", Reason: "must be set"}
	}
	now := Timestamp(p.Now)
	return Job{
		ID:             p.ID,
		ClientID:       p.ClientID,
		IdempotencyKey: p.IdempotencyKey,
		Status:         StatusPending,
		ETA:            Timestamp(p.ETA),
		Links:          []Link{},
		CreatedAt:      now,
		UpdatedAt:      now,
	}, nil
}

// VisibleTo reports whether clientID may see the job.
func (j Job) VisibleTo(clientID string) bool {
	return clientID != "" && j.ClientID == clientID
}

// Outcome is how a job ends: DONE with links, or FAILED with a reason.
// Build it with Done or Failed, which enforce the rules.
type Outcome struct {
	Status  Status
	Links   []Link
	Failure *Failure
	At      time.Time
}

// CompositionEntity is the link entity that names a created composition.
const CompositionEntity = "composition"

// Done returns the outcome of a successful job. It needs at least one link,
// each with a token entity and an absolute-path href (ValidHref), one of
// them with entity CompositionEntity.
func Done(links []Link, at time.Time) (Outcome, error) {
	o := Outcome{Status: StatusDone, Links: slices.Clone(links), At: Timestamp(at)}
	if err := o.Validate(); err != nil {
		return Outcome{}, err
	}
	return o, nil
}

// MaxETA is the longest eta a job may be created with: a worker that
// expects longer should say so later, not promise a day ahead.
const MaxETA = 24 * time.Hour

// ETARule says in words what CheckETA accepts, for messages.
const ETARule = "must be a positive duration such as 30s, at most 24h"

// CheckETA returns a *ValidationError naming the eta unless d is over zero
// and at most MaxETA. Every transport (the write API, the jobs command, a
// Go caller of the use cases) refuses the same etas with it.
func CheckETA(d time.Duration) error {
	if d <= 0 || d > MaxETA {
		return &ValidationError{Field: "eta", Reason: ETARule}
	}
	return nil
}

// MinFailureCode and MaxFailureCode bound the code of a FAILED job.
const (
	MinFailureCode = 1
	MaxFailureCode = 999
)

// FailureCodeRule says in words what ValidFailureCode accepts, for messages.
const FailureCodeRule = "a FAILED job needs a code from 1 to 999"

// ValidFailureCode reports whether code may be the code of a FAILED job.
// The registry reports failures with HTTP-like codes (422, 504...), so a
// code is 1 to 999: never zero, which reads as "no code", nor negative.
func ValidFailureCode(code int) bool {
	return code >= MinFailureCode && code <= MaxFailureCode
}

// Failed returns the outcome of a failed job. It needs a code that
// ValidFailureCode accepts and a message of valid UTF-8 without NUL bytes.
func Failed(code int, message string, at time.Time) (Outcome, error) {
	o := Outcome{Status: StatusFailed, Failure: &Failure{Code: code, Message: message}, At: Timestamp(at)}
	if err := o.Validate(); err != nil {
		return Outcome{}, err
	}
	return o, nil
}

// Validate applies the rules of Done and Failed to o, however it was
// built; Finish refuses an outcome that breaks them.
func (o Outcome) Validate() error {
	switch o.Status {
	case StatusDone:
		if len(o.Links) == 0 {
			return &ValidationError{Field: "links", Reason: "a DONE job needs at least one link"}
		}
		for _, l := range o.Links {
			if err := CheckLink(l); err != nil {
				return err
			}
		}
		// The contract promises a DONE answer a link to the composition
		// created; other entities may come beside it, not instead of it.
		if !slices.ContainsFunc(o.Links, func(l Link) bool { return l.Entity == CompositionEntity }) {
			return &ValidationError{Field: "links", Reason: "a DONE job needs a composition link"}
		}
	case StatusFailed:
		if o.Failure == nil || !ValidFailureCode(o.Failure.Code) {
			return &ValidationError{Field: "code", Reason: FailureCodeRule}
		}
		if err := CheckText("message", o.Failure.Message); err != nil {
			return err
		}
		if strings.TrimSpace(o.Failure.Message) == "" {
			return &ValidationError{Field: "message", Reason: "a FAILED job needs a message"}
		}
	default:
		return &ValidationError{Field: "status", Reason: "an outcome must be DONE or FAILED"}
	}
	return nil
}

// Timeout is the failure of a job that stayed PENDING past its deadline.
var Timeout = Failure{Code: 504, Message: "job timed out"}

// TimedOut returns the outcome of a job that stayed PENDING too long.
func TimedOut(at time.Time) Outcome {
	f := Timeout
	return Outcome{Status: StatusFailed, Failure: &f, At: Timestamp(at)}
}

// sameAs reports whether o describes the same ending as the job already has;
// the time of the ending is not part of it.
func (o Outcome) sameAs(j Job) bool {
	if o.Status != j.Status {
		return false
	}
	switch o.Status {
	case StatusDone:
		return slices.Equal(o.Links, j.Links)
	case StatusFailed:
		return j.Failure != nil && o.Failure != nil && *o.Failure == *j.Failure
	}
	return false
}

// Finish applies o to the job. A PENDING job takes the outcome and changed is
// true. A finished job never changes: repeating its own outcome is a no-op
// (changed is false), any other outcome is ErrConflict.
func (j Job) Finish(o Outcome) (next Job, changed bool, err error) {
	if err := o.Validate(); err != nil {
		return j, false, err
	}
	if j.Status.Terminal() {
		if o.sameAs(j) {
			return j, false, nil
		}
		return j, false, ErrConflict
	}
	next = j
	next.Status = o.Status
	next.Links = Links(o.Links)
	if o.Failure != nil {
		f := *o.Failure
		next.Failure = &f
	}
	at := Timestamp(o.At)
	next.UpdatedAt = at
	next.FinishedAt = &at
	return next, true, nil
}
