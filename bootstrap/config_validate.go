package bootstrap

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
)

// Mode says what the configuration is validated for.
type Mode int

const (
	// ModeServe is `jobstatus serve`: every setting, auth required.
	ModeServe Mode = iota
	// ModeDev is `jobstatus serve --dev`, which brings its own key, client
	// and jobs, so no auth setting is required.
	ModeDev
	// ModeTool is the in-process commands (migrate, jobs, report): no
	// listener and no auth, but the same store and use-case settings.
	ModeTool
)

// Validate refuses every invalid value, each in one line that names the
// variable and the YAML key, all at once. mode decides what is required.
func (c Config) Validate(mode Mode) error {
	p := &problems{seen: map[string]bool{}}
	p.numbers(&c)

	if mode != ModeTool {
		p.address("http.addr", c.HTTP.Addr, false)
		p.address("admin_addr", c.AdminAddr, true)
		p.address("internal.addr", c.Internal.Addr, true)
		p.distinct("internal.addr", c.Internal.Addr, "http.addr", c.HTTP.Addr)
		p.distinct("internal.addr", c.Internal.Addr, "admin_addr", c.AdminAddr)
		p.distinct("admin_addr", c.AdminAddr, "http.addr", c.HTTP.Addr)
	}
	// The adapters state their own limits; here only which setting feeds them.
	p.check("internal.max_body_bytes", httpapi.CheckMaxBodyBytes(int64(c.Internal.MaxBodyBytes)))
	for _, key := range []string{"http.read_header_timeout", "http.read_timeout", "http.write_timeout",
		"http.idle_timeout", "http.shutdown_timeout"} {
		p.positive(key)
	}
	if p.valid("polling.max_waiters") && c.HTTP.MaxInFlight > 0 && c.Polling.MaxWaiters >= c.HTTP.MaxInFlight {
		p.add("http.max_in_flight", "must exceed %s = %d, or held requests starve the rest; got %d",
			name("polling.max_waiters"), c.Polling.MaxWaiters, c.HTTP.MaxInFlight)
	}
	if p.valid("polling.max_wait") && c.HTTP.WriteTimeout <= c.Polling.MaxWait {
		p.add("http.write_timeout", "must exceed %s = %s, or held requests are cut off; got %s",
			name("polling.max_wait"), formatDuration(c.Polling.MaxWait), formatDuration(c.HTTP.WriteTimeout))
	}

	p.positive("database.max_open_conns")
	p.positive("database.query_timeout")
	if p.valid("database.max_open_conns") && c.Database.MaxIdleConns > c.Database.MaxOpenConns {
		p.add("database.max_idle_conns", "must not exceed %s = %d; got %d",
			name("database.max_open_conns"), c.Database.MaxOpenConns, c.Database.MaxIdleConns)
	}
	if c.Database.URL != "" {
		if u, err := url.Parse(c.Database.URL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			// The URL may carry a password: never echo it.
			p.add("database.url", "must be a postgres:// URL")
		} else if err := postgres.CheckURL(c.Database.URL); err != nil {
			p.add("database.url", "is refused by the PostgreSQL driver: %s", err)
		}
	}

	p.positive("auth.jwks_refresh")
	p.positive("auth.jwks_unknown_kid_interval")
	p.positive("cache.jobs")
	p.positive("cache.jobs_bytes")
	p.positive("cache.tokens")
	if c.Polling.MaxRetryAfter < time.Second || c.Polling.MaxRetryAfter > app.MaxRetryAfterLimit {
		p.add("polling.max_retry_after", "must be between 1s and %s; got %s", formatDuration(app.MaxRetryAfterLimit), formatDuration(c.Polling.MaxRetryAfter))
	}

	p.positive("eta.default")
	p.positive("eta.window")
	p.positive("eta.min_samples")
	p.positive("eta.refresh")
	if !(c.ETA.Percentile > 0 && c.ETA.Percentile <= 1) {
		p.add("eta.percentile", "must be in (0, 1]; got %g", c.ETA.Percentile)
	}
	if p.valid("eta.window") && c.ETA.MinSamples > c.ETA.Window {
		p.add("eta.min_samples", "must not exceed %s = %d, or the default is used forever; got %d",
			name("eta.window"), c.ETA.Window, c.ETA.MinSamples)
	}

	p.positive("sweeper.pending_timeout")
	p.positive("sweeper.batch")

	for _, key := range []string{"events.max_streams", "events.max_streams_per_client", "events.heartbeat", "events.retry",
		"events.poll", "events.staleness_bound", "events.buffer", "events.retention", "events.retention_interval", "events.batch",
		"list.default_page_size", "list.max_page_size"} {
		p.positive(key)
	}
	if p.valid("events.max_streams") && c.Events.MaxStreamsPerClient > c.Events.MaxStreams {
		p.add("events.max_streams_per_client", "must not exceed %s = %d; got %d",
			name("events.max_streams"), c.Events.MaxStreams, c.Events.MaxStreamsPerClient)
	}
	if p.valid("events.max_streams") && p.valid("polling.max_waiters") && p.valid("http.max_in_flight") && c.HTTP.MaxInFlight > 0 &&
		c.Events.MaxStreams+c.Polling.MaxWaiters >= c.HTTP.MaxInFlight {
		p.add("events.max_streams", "plus %s = %d must stay below %s = %d, or held streams starve the rest; got %d",
			name("polling.max_waiters"), c.Polling.MaxWaiters, name("http.max_in_flight"), c.HTTP.MaxInFlight, c.Events.MaxStreams)
	}
	if p.valid("events.poll") && p.valid("events.staleness_bound") && c.Events.Poll >= c.Events.StalenessBound {
		p.add("events.poll", "must stay below %s = %s, or the feed cannot show it is within it; got %s",
			name("events.staleness_bound"), c.Events.StalenessBound, c.Events.Poll)
	}
	if p.valid("list.default_page_size") && c.List.MaxPageSize < c.List.DefaultPageSize {
		p.add("list.max_page_size", "must not be below %s = %d; got %d",
			name("list.default_page_size"), c.List.DefaultPageSize, c.List.MaxPageSize)
	}

	if c.RateLimit.RPS > 0 && c.RateLimit.Burst < 1 {
		p.add("rate_limit.burst", "must be at least 1 when %s is set; got %d", name("rate_limit.rps"), c.RateLimit.Burst)
	}
	for _, id := range slices.Sorted(maps.Keys(c.RateLimit.Clients)) {
		l := c.RateLimit.Clients[id]
		switch {
		case strings.TrimSpace(id) == "":
			p.add("rate_limit.clients", "has an entry with an empty client id")
		case !domain.ValidClientID(id):
			p.add("rate_limit.clients", "%q: client id %s", id, domain.ClientIDRule)
		case math.IsNaN(l.RPS) || math.IsInf(l.RPS, 0) || l.RPS < 0:
			p.add("rate_limit.clients", "%s: rps must be a number not below 0; got %g", id, l.RPS)
		case l.Burst < 0 || (l.RPS > 0 && l.Burst < 1):
			p.add("rate_limit.clients", "%s: burst must be at least 1 when rps is set; got %d", id, l.Burst)
		}
	}

	// zap reads an empty level as info; an empty setting is refused like
	// an empty log.format, not silently defaulted.
	if _, err := parseLevel(c.Log.Level); err != nil || c.Log.Level == "" {
		p.add("log.level", "must be debug, info, warn or error; got %q", c.Log.Level)
	}
	for _, id := range c.Internal.Writers {
		if !domain.ValidClientID(id) {
			p.add("internal.writers", "%q: client id %s", id, domain.ClientIDRule)
		}
	}
	if c.Log.SampleSuccess < 0 {
		p.add("log.sample_success", "must be 0 (no success lines) or more; got %d", c.Log.SampleSuccess)
	}
	if c.Log.Format != "json" && c.Log.Format != "console" {
		p.add("log.format", "must be json or console; got %q", c.Log.Format)
	}
	if mode == ModeServe {
		p.auth(c)
	}
	return errors.Join(p.errs...)
}

// problems collects one message per setting: the first found wins, so a
// negative value is not also reported as "must be positive".
type problems struct {
	values map[string]reflect.Value // by YAML key
	seen   map[string]bool
	errs   []error
}

func (p *problems) add(key, format string, args ...any) {
	if p.seen[key] {
		return
	}
	p.seen[key] = true
	p.errs = append(p.errs, fmt.Errorf("%s "+format, append([]any{name(key)}, args...)...))
}

// check adds err, an adapter's verdict on the value of key, as key's
// problem (the first of a joined error: one message per setting).
func (p *problems) check(key string, err error) {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		err = joined.Unwrap()[0]
	}
	if err != nil {
		p.add(key, "%s", err)
	}
}

// valid reports whether key has no problem so far: a rule comparing two
// settings says nothing while the other one is wrong itself.
func (p *problems) valid(key string) bool { return !p.seen[key] }

// numbers refuses, for every numeric setting found by reflection, negative
// values and (for fractions) NaN and infinities. No setting means anything
// by a negative value, so new settings are covered without a new line here.
func (p *problems) numbers(c *Config) {
	p.values = map[string]reflect.Value{}
	for _, s := range settingsOf(c) {
		p.values[s.yaml] = s.value
		switch s.value.Kind() {
		case reflect.Int, reflect.Int64:
			if s.value.Int() < 0 {
				p.add(s.yaml, "must not be negative; got %s", formatValue(s.value))
			}
		case reflect.Float64:
			if f := s.value.Float(); math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
				p.add(s.yaml, "must be a number not below 0; got %g", f)
			}
		}
	}
}

// positive refuses a zero (or negative) numeric setting.
func (p *problems) positive(key string) {
	if v := p.values[key]; v.Int() <= 0 {
		p.add(key, "must be positive; got %s", formatValue(v))
	}
}

// address refuses a listen address that is not host:port.
func (p *problems) address(key, addr string, optional bool) {
	if addr == "" && optional {
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(key, "must be host:port, e.g. 127.0.0.1:8080 or :8080; got %q", addr)
		return
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil && port != "" {
		// Service names ("http") and ports over 65535 would fail only at
		// listen; an empty port, like 0, means any free port.
		p.add(key, "must have a port from 0 to 65535; got %q", addr)
	}
}

// distinct refuses two listeners on one port: the second would fail to
// start with "address already in use", or, with the same host, take the
// other's traffic. Port 0 (any free port) never collides.
func (p *problems) distinct(key, addr, otherKey, other string) {
	host, port, err := net.SplitHostPort(addr)
	otherHost, otherPort, otherErr := net.SplitHostPort(other)
	if err != nil || otherErr != nil || port != otherPort || port == "0" {
		return
	}
	if host == otherHost || anyHost(host) || anyHost(otherHost) {
		p.add(key, "must not use the port of %s = %q; got %q", name(otherKey), other, addr)
	}
}

// claim refuses an empty issuer or audience, and one that is blank or
// padded with spaces (the verifier's rule): tokens carry the exact value,
// so a padded setting would refuse every token.
func (p *problems) claim(key, v string) {
	switch {
	case v == "":
		p.add(key, "is required")
	case !jwtauth.ValidClaimValue(v):
		p.add(key, "%s; got %q", jwtauth.ClaimValueRule, v)
	}
}

// anyHost reports whether a listen host binds every interface.
func anyHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || (ip != nil && ip.IsUnspecified())
}

func (p *problems) auth(c Config) {
	a := c.Auth
	if !c.AuthConfigured() {
		p.errs = append(p.errs, errors.New("no auth configuration: set JOBSTATUS_AUTH_JWKS_FILE or JOBSTATUS_AUTH_JWKS_URL, "+
			"JOBSTATUS_AUTH_ISSUER, JOBSTATUS_AUTH_AUDIENCE and JOBSTATUS_API_KEYS_FILE, or run with --dev"))
		return
	}
	switch {
	case a.JWKSFile == "" && a.JWKSURL == "":
		p.add("auth.jwks_file", "or %s is required", name("auth.jwks_url"))
	case a.JWKSFile != "" && a.JWKSURL != "":
		p.add("auth.jwks_file", "and %s: set only one", name("auth.jwks_url"))
	case a.JWKSURL != "":
		if u, err := url.Parse(a.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			p.add("auth.jwks_url", "must be an http(s) URL")
		}
	}
	p.claim("auth.issuer", a.Issuer)
	p.claim("auth.audience", a.Audience)
	if c.APIKeysFile == "" {
		p.add("api_keys_file", "is required")
	}
	p.check("auth.algorithms", jwtauth.CheckAlgorithms(a.Algorithms))
}
