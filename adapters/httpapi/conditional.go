package httpapi

import (
	nethttp "net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jobstatus/jobstatus/domain"
)

// jobETag is the weak validator of a job's answer: the job's version and
// the eta it is presented with name the data exactly, while meta (the
// request id) differs per response, so the tag is weak (RFC 9110 §8.8.1).
func jobETag(j domain.Job) string {
	return `W/"` + strconv.FormatInt(j.Version, 36) + "." + strconv.FormatInt(j.ETA.UnixMilli(), 36) + `"`
}

// lastModified is when a finished job last changed; a pending job's
// answer changes with its re-estimated eta, so it has none.
func lastModified(j domain.Job) (time.Time, bool) {
	if !j.Status.Terminal() || j.UpdatedAt.IsZero() {
		return time.Time{}, false
	}
	return j.UpdatedAt.UTC().Truncate(time.Second), true
}

// precondition is the outcome of the conditional headers.
type precondition int

const (
	proceed     precondition = iota // answer 200
	notModified                     // 304
	failed                          // 412
)

// evaluate applies the conditional headers of a GET or HEAD in the order
// of RFC 9110 §13.2.2: If-Match, else If-Unmodified-Since; then
// If-None-Match, else If-Modified-Since.
func evaluate(r *nethttp.Request, etag string, modified time.Time, hasModified bool) precondition {
	h := r.Header
	if v := h[hdrIfMatch]; len(v) > 0 {
		// Strong comparison: a weak tag never matches; "*" matches any
		// current representation (the job exists, or we would not be here).
		if !anyTag(v, func(tag string) bool { return tag == "*" || (!isWeak(tag) && !isWeak(etag) && tag == etag) }) {
			return failed
		}
	} else if d, ok := httpDate(first(h, hdrIfUnmodifiedSince)); ok && hasModified && modified.After(d) {
		return failed
	}
	if v := h[hdrIfNoneMatch]; len(v) > 0 {
		if anyTag(v, func(tag string) bool { return tag == "*" || opaque(tag) == opaque(etag) }) {
			return notModified
		}
		return proceed
	}
	if d, ok := httpDate(first(h, hdrIfModifiedSince)); ok && hasModified && !modified.After(d) {
		return notModified
	}
	return proceed
}

// ifMatchNeverPasses reports an If-Match that no answer of a job can
// pass: every job's ETag is weak and If-Match compares strongly, so only
// "*" passes, and without it the answer is 412 whatever the job becomes.
func ifMatchNeverPasses(h nethttp.Header) bool {
	v := h[hdrIfMatch]
	return len(v) > 0 && !anyTag(v, func(tag string) bool { return tag == "*" })
}

// anyTag reports whether match holds for one of the entity tags listed in
// the header values.
func anyTag(values []string, match func(string) bool) bool {
	for _, v := range values {
		for _, tag := range strings.Split(v, ",") {
			if tag = strings.TrimSpace(tag); tag != "" && match(tag) {
				return true
			}
		}
	}
	return false
}

func isWeak(tag string) bool { return strings.HasPrefix(tag, "W/") }

// opaque is the tag without its weakness indicator: the weak comparison.
func opaque(tag string) string { return strings.TrimPrefix(tag, "W/") }

// httpDate parses an HTTP-date; an invalid date is ignored (RFC 9110
// §13.1.3, §13.1.4).
func httpDate(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	t, err := nethttp.ParseTime(v)
	return t, err == nil
}
