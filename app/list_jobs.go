package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// ListConfig bounds pages of a listing.
type ListConfig struct {
	DefaultPageSize int // page size when the caller names none
	MaxPageSize     int // larger page sizes are capped to this
}

// Validate refuses sizes that are not positive and a default above the cap.
func (c ListConfig) Validate() error {
	if c.DefaultPageSize <= 0 || c.MaxPageSize < c.DefaultPageSize {
		return fmt.Errorf("app: list page sizes must be 0 < default <= max, got %d and %d", c.DefaultPageSize, c.MaxPageSize)
	}
	return nil
}

// ListJobs asks for one page of the principal's jobs, newest first. Every
// field but Principal is as the caller sent it, empty when absent, and is
// validated here.
type ListJobs struct {
	Principal   domain.Principal
	Status      string
	CreatedFrom string // RFC 3339 at any precision, inclusive
	CreatedTo   string // RFC 3339 at any precision, exclusive
	PageSize    string
	PageToken   string
}

// JobPage is one page of a listing; NextPageToken is empty on the last one.
type JobPage struct {
	Jobs []domain.Job
	// Unreadable are the jobs of the page the store holds but cannot read
	// (written by hand against the service's rules), in listing order:
	// the page goes on without them rather than fail, so one such job does
	// not hide every other, and says which they are.
	Unreadable    []*domain.UnreadableJobError
	NextPageToken string
}

// ListJobsHandler answers ListJobs.
type ListJobsHandler struct {
	jobs ports.JobLister
	cfg  ListConfig
}

// NewListJobsHandler returns a ListJobsHandler, or an error for a nil
// lister or an invalid cfg.
func NewListJobsHandler(jobs ports.JobLister, cfg ListConfig) (ListJobsHandler, error) {
	if jobs == nil {
		return ListJobsHandler{}, missing("ListJobsHandler", "a job lister")
	}
	if err := cfg.Validate(); err != nil {
		return ListJobsHandler{}, err
	}
	return ListJobsHandler{jobs: jobs, cfg: cfg}, nil
}

// Handle checks scope, then each filter (a *domain.ValidationError names
// the first bad one), then reads one page more than asked to know whether
// another follows. The cursor is the last job's (created_at, id), so jobs
// created while a client pages never shift what it has not seen yet.
func (h ListJobsHandler) Handle(ctx context.Context, q ListJobs) (JobPage, error) {
	if h.jobs == nil {
		return JobPage{}, errUnwired
	}
	if err := q.Principal.Require(domain.ScopeCompositionRead); err != nil {
		return JobPage{}, err
	}
	lq, err := h.query(q)
	if err != nil {
		return JobPage{}, err
	}
	if q.CreatedTo != "" && !lq.CreatedTo.After(time.Time{}) {
		// No job is created before year 1; and the zero time, to the
		// port, is no bound at all: asked, it would answer every job.
		return JobPage{Jobs: []domain.Job{}}, nil
	}
	limit := lq.Limit
	lq.Limit++
	listed, err := h.jobs.ListJobs(ctx, lq)
	if err != nil {
		return JobPage{}, err
	}
	page := JobPage{Jobs: make([]domain.Job, 0, min(len(listed), limit))}
	for _, l := range listed[:min(len(listed), limit)] {
		if l.Unreadable != nil {
			page.Unreadable = append(page.Unreadable, l.Unreadable)
			continue
		}
		page.Jobs = append(page.Jobs, l.Job)
	}
	if len(listed) > limit {
		// The next page starts after this page's last job, whether it
		// could be read or not.
		last := listed[limit-1].Job
		page.NextPageToken = encodeCursor(ports.JobCursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return page, nil
}

func (h ListJobsHandler) query(q ListJobs) (ports.JobListQuery, error) {
	lq := ports.JobListQuery{ClientID: q.Principal.ClientID, Limit: h.cfg.DefaultPageSize}
	if q.Status != "" {
		st := domain.Status(q.Status)
		if !st.Valid() {
			return lq, &domain.ValidationError{Field: "status", Reason: "must be PENDING, DONE or FAILED"}
		}
		lq.Status = st
	}
	var err error
	if lq.CreatedFrom, err = parseTime("created_from", q.CreatedFrom); err != nil {
		return lq, err
	}
	if lq.CreatedTo, err = parseTime("created_to", q.CreatedTo); err != nil {
		return lq, err
	}
	// Whether a bound was given is whether it was sent: the zero time
	// (0001-01-01T00:00:00Z) is a date a client may send too.
	if q.CreatedFrom != "" && q.CreatedTo != "" && !lq.CreatedFrom.Before(lq.CreatedTo) {
		return lq, &domain.ValidationError{Field: "created_to", Reason: "must be after created_from"}
	}
	// Jobs are created at domain.Precision (PostgreSQL's microseconds),
	// which would round a finer bound to the nearest instant, one way or
	// the other. Up is exact for both: created_at >= from, at any
	// precision, holds just when created_at >= ceil(from), and
	// created_at < to just when created_at < ceil(to).
	lq.CreatedFrom, lq.CreatedTo = ceilPrecision(lq.CreatedFrom), ceilPrecision(lq.CreatedTo)
	if q.PageSize != "" {
		// Digits only, as documented: strconv.Atoi would also take a sign.
		n, err := strconv.Atoi(q.PageSize)
		digits := strings.TrimLeft(q.PageSize, "0123456789") == ""
		if errors.Is(err, strconv.ErrRange) && digits {
			n, err = h.cfg.MaxPageSize, nil // too large to represent: capped like any large size
		}
		if err != nil || !digits || n <= 0 {
			return lq, &domain.ValidationError{Field: "page_size", Reason: "must be a positive whole number"}
		}
		lq.Limit = min(n, h.cfg.MaxPageSize)
	}
	if q.PageToken != "" {
		c, err := decodeCursor(q.PageToken)
		if err != nil {
			return lq, &domain.ValidationError{Field: "page_token", Reason: "must be a next_page_token from a previous page"}
		}
		lq.After = &c
	}
	return lq, nil
}

// ceilPrecision returns the first instant at domain.Precision not before t.
func ceilPrecision(t time.Time) time.Time {
	c := t.Truncate(domain.Precision)
	if c.Before(t) {
		c = c.Add(domain.Precision)
	}
	return c
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, ok := parseRFC3339(s)
	if !ok {
		return time.Time{}, &domain.ValidationError{Field: field, Reason: "must be an RFC 3339 date-time"}
	}
	return t.UTC(), nil
}

// parseRFC3339 reads an RFC 3339 date-time (section 5.6) exactly.
// time.Parse with time.RFC3339Nano is both looser and stricter than the
// grammar: it takes a one-digit hour (T1:16:00Z), a comma before the
// fraction and offsets such as +01:60 (read as +02:00) or +24:00, and
// refuses a lower-case t or z, which the grammar allows (its strings are
// case-insensitive), and a leap second (:60). Here the shape is checked
// first; time.Parse then checks the ranges of the canonical form. A leap
// second is the instant after :59, as a POSIX clock counts it. Digits of
// the fraction past nanoseconds round up by a nanosecond when not all
// zero, so the bounds' rounding up to microseconds stays exact.
// A leap second is 23:59:60 in UTC, in whatever offset it is written.
func parseRFC3339(s string) (time.Time, bool) {
	const shape = "dddd-dd-ddTdd:dd:dd" // then [.d+] and Z or ±dd:dd
	if len(s) < len(shape)+1 {
		return time.Time{}, false
	}
	for i := 0; i < len(shape); i++ {
		switch c := s[i]; shape[i] {
		case 'd':
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
		case 'T':
			if c != 'T' && c != 't' {
				return time.Time{}, false
			}
		default:
			if c != shape[i] {
				return time.Time{}, false
			}
		}
	}
	rest, frac := s[len(shape):], ""
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return time.Time{}, false
		}
		frac, rest = rest[:n], rest[n:]
	}
	switch {
	case rest == "Z" || rest == "z":
		rest = "Z"
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' && isDigits(rest[1:3]) && isDigits(rest[4:6]):
		if rest[1:3] > "23" || rest[4:6] > "59" {
			return time.Time{}, false
		}
	default:
		return time.Time{}, false
	}
	sec, leap := s[17:19], s[17:19] == "60"
	if leap {
		sec = "59"
	}
	beyond := ""
	if len(frac) > 10 {
		frac, beyond = frac[:10], frac[10:]
	}
	t, err := time.Parse(time.RFC3339Nano, s[:10]+"T"+s[11:17]+sec+frac+rest)
	if err != nil {
		return time.Time{}, false
	}
	if leap {
		if u := t.UTC(); u.Hour() != 23 || u.Minute() != 59 {
			return time.Time{}, false // a leap second ends a UTC day
		}
		t = t.Add(time.Second)
	}
	if strings.Trim(beyond, "0") != "" {
		t = t.Add(time.Nanosecond)
	}
	return t, true
}

func isDigits(s string) bool { return strings.TrimLeft(s, "0123456789") == "" }

// encodeCursor writes a cursor as base64url of "<unix nanoseconds>,<id>",
// or "<unix microseconds>us,<id>" for a creation time Unix nanoseconds
// cannot hold (before 1677-09-21, after 2262-04-11): opaque to clients,
// exact to the nanosecond, and in the nanosecond form whenever it can be,
// the only form instances before the microsecond one read.
func encodeCursor(c ports.JobCursor) string {
	var pos string
	if inNanoRange(c.CreatedAt) {
		pos = strconv.FormatInt(c.CreatedAt.UnixNano(), 10)
	} else {
		pos = strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "us"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(pos + "," + c.ID.String()))
}

// The times Unix nanoseconds hold.
var (
	nanoMin = time.Unix(0, math.MinInt64).UTC()
	nanoMax = time.Unix(0, math.MaxInt64).UTC()
)

func inNanoRange(t time.Time) bool {
	return !t.Before(nanoMin) && !t.After(nanoMax)
}

func decodeCursor(token string) (ports.JobCursor, error) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil {
		return ports.JobCursor{}, err
	}
	pos, id, ok := strings.Cut(string(raw), ",")
	if !ok {
		return ports.JobCursor{}, fmt.Errorf("cursor without id")
	}
	digits, micro := strings.CutSuffix(pos, "us")
	// Only the form encodeCursor writes: no sign but "-", no leading zero,
	// microseconds only where nanoseconds cannot say it.
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != digits {
		return ports.JobCursor{}, fmt.Errorf("cursor position %q is not written as the service writes it", pos)
	}
	at := time.Unix(0, n).UTC()
	if micro {
		if at = time.UnixMicro(n).UTC(); inNanoRange(at) {
			return ports.JobCursor{}, fmt.Errorf("cursor position %q is not written as the service writes it", pos)
		}
	}
	parsed, err := domain.ParseID(id)
	if err != nil {
		return ports.JobCursor{}, err
	}
	return ports.JobCursor{CreatedAt: at, ID: parsed}, nil
}
