package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/jobstatus/jobstatus/internal/credfile"
)

// jwksHTTPTimeout bounds one JWKS fetch.
const jwksHTTPTimeout = 5 * time.Second

// snapshot is the key set in use. gen changes whenever a key leaves the set
// (or changes under its kid), so verified tokens cached under an older gen
// are checked again.
type snapshot struct {
	set *KeySet
	gen uint64
}

// source loads a key set from a file, a URL or bytes, all through ParseJWKS,
// and keeps the current one.
type source struct {
	file, url string
	shownURL  string // url with its password masked: the only form logged or put in an error
	client    *http.Client
	logger    *zap.Logger
	unknown   *rate.Limiter // unknown-kid refetches; nil for a file

	current atomic.Pointer[snapshot]
	skipped atomic.Uint64
	mu      sync.Mutex // serialises loads
	failure atomic.Pointer[refreshFailure]
}

type refreshFailure struct {
	at  time.Time
	err error
}

func newSource(logger *zap.Logger) *source {
	s := &source{logger: logger}
	s.current.Store(&snapshot{set: &KeySet{}})
	return s
}

// install parses data and makes it the current set; origin names the file
// or URL in messages.
func (s *source) install(data []byte, origin string) (*KeySet, error) {
	set, err := ParseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", origin, err)
	}
	for _, k := range set.skipped {
		s.logger.Warn("JWKS key skipped", zap.String("source", origin), zap.Int("index", k.Index),
			zap.String("kid", k.KID), zap.String("reason", k.Reason))
	}
	s.skipped.Add(uint64(len(set.skipped)))
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.current.Load()
	next := &snapshot{set: set, gen: old.gen}
	if removed(old.set, set) {
		next.gen++
	}
	s.current.Store(next)
	return set, nil
}

// removed reports whether a key of old is missing from next.
func removed(old, next *KeySet) bool {
	have := make(map[string]bool, len(next.keys))
	for _, k := range next.keys {
		have[k.fingerprint] = true
	}
	for _, k := range old.keys {
		if !have[k.fingerprint] {
			return true
		}
	}
	return false
}

// redactURL returns raw with its password masked (url.URL.Redacted), for
// logs and errors: a JWKS URL may carry credentials in its userinfo. A URL
// that does not parse is not shown at all.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// loadFile reads the JWKS file again: a regular file of at most
// MaxJWKSSize bytes, read in bounded time (credfile.Read).
func (s *source) loadFile() (*KeySet, error) {
	data, err := credfile.Read(context.Background(), s.file, MaxJWKSSize)
	if err != nil {
		return nil, fmt.Errorf("read JWKS file: %w", err)
	}
	return s.install(data, "file "+s.file)
}

// fetch reads the JWKS URL once and records the outcome for readiness: a
// success clears an earlier failure.
func (s *source) fetch(ctx context.Context) error {
	err := s.fetchOnce(ctx)
	if err != nil {
		s.failure.Store(&refreshFailure{at: time.Now(), err: err})
		s.logger.Warn("JWKS refresh failed; keeping the last good keys", zap.String("url", s.shownURL), zap.Error(err))
		return err
	}
	s.failure.Store(nil)
	return nil
}

func (s *source) fetchOnce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, jwksHTTPTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		// Not wrapped: a *url.Error would quote the URL, password and all.
		return fmt.Errorf("JWKS request to %s: invalid request", s.shownURL)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("JWKS fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("JWKS fetch: status %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSLen+1))
	if err != nil {
		return fmt.Errorf("JWKS fetch: read body: %w", err)
	}
	_, err = s.install(data, "URL "+s.shownURL)
	return err
}

// refreshLoop fetches the URL every interval until ctx ends.
func (s *source) refreshLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = s.fetch(ctx)
		}
	}
}

// refetchForUnknownKID fetches the URL again when a token names a kid the
// set lacks, at most once per interval so made-up kids cannot hammer the
// issuer. It reports whether a fetch succeeded.
func (s *source) refetchForUnknownKID(ctx context.Context) bool {
	if s.unknown == nil || !s.unknown.Allow() {
		return false
	}
	return s.fetch(ctx) == nil
}

// ready says how many keys are usable and why a set is not usable.
func (s *source) ready() (string, error) {
	set := s.current.Load().set
	detail := fmt.Sprintf("%d verification keys", set.Len())
	if n := len(set.skipped); n > 0 {
		detail += fmt.Sprintf(", %d skipped (%s)", n, set.skippedSummary())
	}
	if f := s.failure.Load(); f != nil {
		detail += fmt.Sprintf("; last JWKS refresh failed at %s (%v), using the last good keys",
			f.at.UTC().Format(time.RFC3339), f.err)
	}
	if set.Len() == 0 {
		return "", errors.New("no usable verification key: " + detail)
	}
	return detail, nil
}
