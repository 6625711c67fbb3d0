// Package bootstrap is the composition root: configuration, logging, the fx
// modules that bind adapters to ports, and the command line. It is the only
// package that imports fx.
package bootstrap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"go.yaml.in/yaml/v3"

	"github.com/jobstatus/jobstatus/adapters/jwtauth"
)

// Config is the whole service configuration. Sources, weakest first:
// built-in defaults, the YAML file named by JOBSTATUS_CONFIG, then
// JOBSTATUS_* environment variables.
type Config struct {
	HTTP        HTTPConfig      `yaml:"http" envPrefix:"HTTP_"`
	AdminAddr   string          `yaml:"admin_addr" env:"ADMIN_ADDR"` // empty disables the admin listener
	Database    DatabaseConfig  `yaml:"database" envPrefix:"DATABASE_"`
	Auth        AuthConfig      `yaml:"auth" envPrefix:"AUTH_"`
	APIKeysFile string          `yaml:"api_keys_file" env:"API_KEYS_FILE"`
	Cache       CacheConfig     `yaml:"cache" envPrefix:"CACHE_"`
	Polling     PollingConfig   `yaml:"polling" envPrefix:"POLLING_"`
	ETA         ETAConfig       `yaml:"eta" envPrefix:"ETA_"`
	Sweeper     SweeperConfig   `yaml:"sweeper" envPrefix:"SWEEPER_"`
	RateLimit   RateLimitConfig `yaml:"rate_limit" envPrefix:"RATE_LIMIT_"`
	Log         LogConfig       `yaml:"log" envPrefix:"LOG_"`
}

// SweeperConfig tunes the failing of jobs left PENDING too long.
type SweeperConfig struct {
	Interval       time.Duration `yaml:"interval" env:"INTERVAL"` // 0 disables the sweeper
	PendingTimeout time.Duration `yaml:"pending_timeout" env:"PENDING_TIMEOUT"`
	Batch          int           `yaml:"batch" env:"BATCH"`
}

// CacheConfig bounds the in-process caches and what clients may cache.
type CacheConfig struct {
	Jobs           int           `yaml:"jobs" env:"JOBS"`     // finished jobs kept in memory
	Tokens         int           `yaml:"tokens" env:"TOKENS"` // verified tokens kept in memory
	TerminalMaxAge time.Duration `yaml:"terminal_max_age" env:"TERMINAL_MAX_AGE"`
}

// PollingConfig bounds wait-for-change requests and polling hints.
type PollingConfig struct {
	MaxWait       time.Duration `yaml:"max_wait" env:"MAX_WAIT"`
	MaxWaiters    int           `yaml:"max_waiters" env:"MAX_WAITERS"`
	MaxRetryAfter time.Duration `yaml:"max_retry_after" env:"MAX_RETRY_AFTER"`
}

// ETAConfig tunes the estimate of new jobs' eta.
type ETAConfig struct {
	Default    time.Duration `yaml:"default" env:"DEFAULT"`
	Percentile float64       `yaml:"percentile" env:"PERCENTILE"`
	Window     int           `yaml:"window" env:"WINDOW"`
	MinSamples int           `yaml:"min_samples" env:"MIN_SAMPLES"`
	Refresh    time.Duration `yaml:"refresh" env:"REFRESH"`
}

// HTTPConfig configures the public listener.
type HTTPConfig struct {
	Addr              string        `yaml:"addr" env:"ADDR"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout" env:"READ_HEADER_TIMEOUT"`
	ReadTimeout       time.Duration `yaml:"read_timeout" env:"READ_TIMEOUT"`
	WriteTimeout      time.Duration `yaml:"write_timeout" env:"WRITE_TIMEOUT"`
	IdleTimeout       time.Duration `yaml:"idle_timeout" env:"IDLE_TIMEOUT"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout" env:"SHUTDOWN_TIMEOUT"`
	MaxInFlight       int           `yaml:"max_in_flight" env:"MAX_IN_FLIGHT"` // past it: 503 at once
}

// RateLimitConfig is the per-client token bucket: a default and overrides.
type RateLimitConfig struct {
	RPS     float64                `yaml:"rps" env:"RPS"` // 0 disables the default limit
	Burst   int                    `yaml:"burst" env:"BURST"`
	Clients map[string]ClientLimit `yaml:"clients"`
}

// ClientLimit overrides the rate limit of one client.
type ClientLimit struct {
	RPS   float64 `yaml:"rps"`
	Burst int     `yaml:"burst"`
}

// DatabaseConfig configures the PostgreSQL store. An empty URL selects the
// in-memory store.
type DatabaseConfig struct {
	URL             string        `yaml:"url" env:"URL"`
	MaxOpenConns    int           `yaml:"max_open_conns" env:"MAX_OPEN_CONNS"`
	MaxIdleConns    int           `yaml:"max_idle_conns" env:"MAX_IDLE_CONNS"`
	ConnMaxLifetime time.Duration `yaml:"conn_max_lifetime" env:"CONN_MAX_LIFETIME"`
	QueryTimeout    time.Duration `yaml:"query_timeout" env:"QUERY_TIMEOUT"`
}

// AuthConfig configures token verification.
type AuthConfig struct {
	JWKSFile               string        `yaml:"jwks_file" env:"JWKS_FILE"`
	JWKSURL                string        `yaml:"jwks_url" env:"JWKS_URL"`
	Issuer                 string        `yaml:"issuer" env:"ISSUER"`
	Audience               string        `yaml:"audience" env:"AUDIENCE"`
	Algorithms             []string      `yaml:"algorithms" env:"ALGORITHMS" envSeparator:","`
	Leeway                 time.Duration `yaml:"leeway" env:"LEEWAY"`
	JWKSRefresh            time.Duration `yaml:"jwks_refresh" env:"JWKS_REFRESH"`
	JWKSUnknownKIDInterval time.Duration `yaml:"jwks_unknown_kid_interval" env:"JWKS_UNKNOWN_KID_INTERVAL"`
}

// LogConfig configures logging.
type LogConfig struct {
	Level  string `yaml:"level" env:"LEVEL"`
	Format string `yaml:"format" env:"FORMAT"` // json or console
}

// DefaultConfig returns the built-in defaults.
func DefaultConfig() Config {
	return Config{
		AdminAddr: "127.0.0.1:9090",
		HTTP: HTTPConfig{
			Addr:              ":8080",
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      40 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   20 * time.Second,
			MaxInFlight:       8192,
		},
		Database: DatabaseConfig{
			MaxOpenConns:    16,
			MaxIdleConns:    16,
			ConnMaxLifetime: 30 * time.Minute,
			QueryTimeout:    2 * time.Second,
		},
		Auth: AuthConfig{
			Algorithms:             slices.Clone(jwtauth.DefaultAlgorithms),
			Leeway:                 30 * time.Second,
			JWKSRefresh:            15 * time.Minute,
			JWKSUnknownKIDInterval: time.Minute,
		},
		Cache:     CacheConfig{Jobs: 100_000, Tokens: 100_000, TerminalMaxAge: time.Hour},
		Polling:   PollingConfig{MaxWait: 30 * time.Second, MaxWaiters: 4096, MaxRetryAfter: 30 * time.Second},
		RateLimit: RateLimitConfig{RPS: 200, Burst: 400},
		ETA:       ETAConfig{Default: 30 * time.Second, Percentile: 0.9, Window: 500, MinSamples: 20, Refresh: 30 * time.Second},
		Sweeper:   SweeperConfig{Interval: time.Minute, PendingTimeout: time.Hour, Batch: 1000},
		Log:       LogConfig{Level: "info", Format: "json"},
	}
}

// LoadConfig builds the configuration from defaults, the file named by
// JOBSTATUS_CONFIG and the environment. environ is os.Environ() in
// production; tests pass their own.
func LoadConfig(environ []string) (Config, error) {
	vars := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	cfg := DefaultConfig()
	if path := vars["JOBSTATUS_CONFIG"]; path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config file: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return Config{}, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	if err := env.ParseWithOptions(&cfg, env.Options{Prefix: "JOBSTATUS_", Environment: vars}); err != nil {
		return Config{}, fmt.Errorf("config environment: %w", err)
	}
	cfg.Auth.Algorithms = splitList(cfg.Auth.Algorithms)
	return cfg, nil
}

// splitList accepts "A,B", "A B" and YAML lists alike.
func splitList(in []string) []string {
	var out []string
	for _, s := range in {
		out = append(out, strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })...)
	}
	return out
}

// AuthConfigured reports whether any auth setting was given.
func (c Config) AuthConfigured() bool {
	a := c.Auth
	return a.JWKSFile != "" || a.JWKSURL != "" || a.Issuer != "" || a.Audience != "" || c.APIKeysFile != ""
}

// Validate checks the configuration for serving. dev relaxes the auth
// requirements: --dev brings its own key, client and jobs.
func (c Config) Validate(dev bool) error {
	var errs []error
	if c.HTTP.Addr == "" {
		errs = append(errs, errors.New("JOBSTATUS_HTTP_ADDR must not be empty"))
	}
	for name, d := range map[string]time.Duration{
		"http.read_header_timeout": c.HTTP.ReadHeaderTimeout, "http.read_timeout": c.HTTP.ReadTimeout,
		"http.write_timeout": c.HTTP.WriteTimeout, "http.idle_timeout": c.HTTP.IdleTimeout,
		"http.shutdown_timeout": c.HTTP.ShutdownTimeout, "database.query_timeout": c.Database.QueryTimeout,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	if c.Cache.Jobs <= 0 || c.Cache.Tokens <= 0 {
		errs = append(errs, errors.New("cache.jobs and cache.tokens must be positive"))
	}
	if c.Cache.TerminalMaxAge < 0 {
		errs = append(errs, errors.New("cache.terminal_max_age must not be negative"))
	}
	if c.Polling.MaxWait < 0 || c.Polling.MaxWaiters < 0 || c.Polling.MaxRetryAfter < time.Second {
		errs = append(errs, errors.New("polling: max_wait and max_waiters must not be negative, max_retry_after at least 1s"))
	}
	if c.HTTP.MaxInFlight < 0 || (c.HTTP.MaxInFlight > 0 && c.Polling.MaxWaiters >= c.HTTP.MaxInFlight) {
		errs = append(errs, errors.New("http.max_in_flight must exceed polling.max_waiters, or held requests starve the rest"))
	}
	if c.RateLimit.RPS < 0 || (c.RateLimit.RPS > 0 && c.RateLimit.Burst < 1) {
		errs = append(errs, errors.New("rate_limit: rps must not be negative; burst at least 1 when limiting"))
	}
	for id, l := range c.RateLimit.Clients {
		if l.RPS < 0 || (l.RPS > 0 && l.Burst < 1) {
			errs = append(errs, fmt.Errorf("rate_limit.clients.%s: rps must not be negative; burst at least 1 when limiting", id))
		}
	}
	if c.HTTP.WriteTimeout <= c.Polling.MaxWait {
		errs = append(errs, errors.New("http.write_timeout must exceed polling.max_wait, or held requests are cut off"))
	}
	if c.ETA.Default <= 0 || c.ETA.Percentile <= 0 || c.ETA.Percentile > 1 || c.ETA.Window <= 0 || c.ETA.Refresh <= 0 {
		errs = append(errs, errors.New("eta: default, window and refresh must be positive, percentile in (0, 1]"))
	}
	if c.Sweeper.Interval < 0 || (c.Sweeper.Interval > 0 && (c.Sweeper.PendingTimeout <= 0 || c.Sweeper.Batch <= 0)) {
		errs = append(errs, errors.New("sweeper: interval must not be negative; pending_timeout and batch must be positive"))
	}
	if c.Database.MaxOpenConns <= 0 {
		errs = append(errs, errors.New("database.max_open_conns must be positive"))
	}
	if c.Database.URL != "" {
		if u, err := url.Parse(c.Database.URL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			errs = append(errs, errors.New("JOBSTATUS_DATABASE_URL must be a postgres:// URL"))
		}
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		errs = append(errs, err)
	}
	if c.Log.Format != "json" && c.Log.Format != "console" {
		errs = append(errs, fmt.Errorf("log.format must be json or console, not %q", c.Log.Format))
	}
	if !dev {
		errs = append(errs, c.validateAuth()...)
	}
	return errors.Join(errs...)
}

func (c Config) validateAuth() []error {
	a := c.Auth
	if !c.AuthConfigured() {
		return []error{errors.New("no auth configuration: set JOBSTATUS_AUTH_JWKS_FILE or JOBSTATUS_AUTH_JWKS_URL, " +
			"JOBSTATUS_AUTH_ISSUER, JOBSTATUS_AUTH_AUDIENCE and JOBSTATUS_API_KEYS_FILE, or run with --dev")}
	}
	var errs []error
	switch {
	case a.JWKSFile == "" && a.JWKSURL == "":
		errs = append(errs, errors.New("set one of JOBSTATUS_AUTH_JWKS_FILE or JOBSTATUS_AUTH_JWKS_URL"))
	case a.JWKSFile != "" && a.JWKSURL != "":
		errs = append(errs, errors.New("set only one of JOBSTATUS_AUTH_JWKS_FILE and JOBSTATUS_AUTH_JWKS_URL"))
	case a.JWKSURL != "":
		if u, err := url.Parse(a.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, errors.New("JOBSTATUS_AUTH_JWKS_URL must be an http(s) URL"))
		}
	}
	if a.Issuer == "" {
		errs = append(errs, errors.New("JOBSTATUS_AUTH_ISSUER is required"))
	}
	if a.Audience == "" {
		errs = append(errs, errors.New("JOBSTATUS_AUTH_AUDIENCE is required"))
	}
	if c.APIKeysFile == "" {
		errs = append(errs, errors.New("JOBSTATUS_API_KEYS_FILE is required"))
	}
	if len(a.Algorithms) == 0 {
		errs = append(errs, errors.New("JOBSTATUS_AUTH_ALGORITHMS must name at least one algorithm"))
	}
	for _, alg := range a.Algorithms {
		if !slices.Contains(jwtauth.SupportedAlgorithms, alg) {
			errs = append(errs, fmt.Errorf("JOBSTATUS_AUTH_ALGORITHMS: %q is not allowed (choose from %s)",
				alg, strings.Join(jwtauth.SupportedAlgorithms, ",")))
		}
	}
	return errs
}

// RedactedDatabaseURL returns the database URL with its password masked, for logs.
func (c Config) RedactedDatabaseURL() string {
	if c.Database.URL == "" {
		return ""
	}
	u, err := url.Parse(c.Database.URL)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}
