// Package ratelimit gives every MIS client its own token bucket
// (golang.org/x/time/rate), with a default limit and per-client overrides.
// It has no defaults of its own: the composition root passes every limit.
package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a bucket: RPS requests per second sustained, Burst at once.
type Limit struct {
	RPS   float64
	Burst int
}

// Unlimited is the Limit that never refuses a request.
var Unlimited = Limit{RPS: math.Inf(1)}

// Validate refuses a limit that is neither Unlimited nor a positive rate
// with a burst of at least 1.
func (l Limit) Validate() error {
	switch {
	case l == Unlimited:
		return nil
	case math.IsNaN(l.RPS) || math.IsInf(l.RPS, 0) || l.RPS <= 0:
		return fmt.Errorf("rps must be positive (or the limit Unlimited), got %g", l.RPS)
	case l.Burst < 1:
		return fmt.Errorf("burst must be at least 1, got %d", l.Burst)
	}
	return nil
}

// Limiter is a ports.RateLimiter. Buckets are created on first use; their
// number is bounded by the registered clients, since only a known api-key
// reaches the limiter.
type Limiter struct {
	def     Limit
	clients map[string]Limit
	now     func() time.Time

	// buckets maps a client id to its *rate.Limiter, or to nil when its
	// limit is Unlimited. Every request looks its bucket up and a bucket
	// is created once per client, so a sync.Map: a lookup takes no lock
	// that all requests share (a bucket has its own).
	buckets sync.Map
}

// New returns a limiter with a default limit and per-client overrides,
// each valid (see Limit.Validate); use Unlimited for no limit.
func New(def Limit, clients map[string]Limit) (*Limiter, error) {
	var errs []error
	if err := def.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("ratelimit: default: %w", err))
	}
	for id, l := range clients {
		if err := l.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("ratelimit: client %q: %w", id, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Limiter{def: def, clients: clients, now: time.Now}, nil
}

// bucket returns client's bucket, nil when its limit is Unlimited.
func (l *Limiter) bucket(client string) *rate.Limiter {
	if b, ok := l.buckets.Load(client); ok {
		return b.(*rate.Limiter)
	}
	lim, found := l.clients[client]
	if !found {
		lim = l.def
	}
	var b *rate.Limiter
	if lim != Unlimited {
		b = rate.NewLimiter(rate.Limit(lim.RPS), lim.Burst)
	}
	actual, _ := l.buckets.LoadOrStore(client, b)
	return actual.(*rate.Limiter)
}

// Allow implements ports.RateLimiter: it takes a token if one is there, and
// otherwise says when the next one comes, without taking it.
func (l *Limiter) Allow(client string) (bool, time.Duration) {
	b := l.bucket(client)
	if b == nil {
		return true, 0
	}
	now := l.now()
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
