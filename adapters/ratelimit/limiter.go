// Package ratelimit gives every MIS client its own token bucket
// (golang.org/x/time/rate), with a default size and per-client overrides.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a bucket: RPS requests per second sustained, Burst at once.
type Limit struct {
	RPS   float64
	Burst int
}

// Limiter is a ports.RateLimiter. Buckets are created on first use; their
// number is bounded by the registered clients, since only a known api-key
// reaches the limiter.
type Limiter struct {
	def     Limit
	clients map[string]Limit
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// New returns a limiter with a default limit and per-client overrides. A
// limit with RPS <= 0 does not limit.
func New(def Limit, clients map[string]Limit) *Limiter {
	return &Limiter{def: def, clients: clients, now: time.Now, buckets: make(map[string]*rate.Limiter)}
}

func (l *Limiter) bucket(client string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[client]
	if !ok {
		lim, found := l.clients[client]
		if !found {
			lim = l.def
		}
		if lim.RPS <= 0 {
			b = rate.NewLimiter(rate.Inf, 0)
		} else {
			b = rate.NewLimiter(rate.Limit(lim.RPS), max(lim.Burst, 1))
		}
		l.buckets[client] = b
	}
	return b
}

// Allow implements ports.RateLimiter: it takes a token if one is there, and
// otherwise says when the next one comes, without taking it.
func (l *Limiter) Allow(client string) (bool, time.Duration) {
	b := l.bucket(client)
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
