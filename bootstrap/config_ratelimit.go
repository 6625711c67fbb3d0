package bootstrap

import "github.com/jobstatus/jobstatus/adapters/ratelimit"

// rateLimit maps a configured bucket to the adapter's: rps 0 means no
// limit in the configuration, which the adapter spells Unlimited.
func rateLimit(rps float64, burst int) ratelimit.Limit {
	if rps == 0 {
		return ratelimit.Unlimited
	}
	return ratelimit.Limit{RPS: rps, Burst: burst}
}

// newRateLimiter builds the per-client limiter from the configuration.
func newRateLimiter(cfg Config) (*ratelimit.Limiter, error) {
	clients := make(map[string]ratelimit.Limit, len(cfg.RateLimit.Clients))
	for id, l := range cfg.RateLimit.Clients {
		clients[id] = rateLimit(l.RPS, l.Burst)
	}
	return ratelimit.New(rateLimit(cfg.RateLimit.RPS, cfg.RateLimit.Burst), clients)
}
