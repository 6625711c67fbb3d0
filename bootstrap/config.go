// Package bootstrap is the composition root: configuration, logging, and
// the fx modules that bind adapters to ports, with what the command line
// (cmd/jobstatus/cli) calls to run them (Serve, WithOperator, Migrate). It
// is the only package that imports fx.
package bootstrap

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"go.yaml.in/yaml/v3"

	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/internal/yamlfile"
)

// Config is the whole service configuration and the one place its defaults
// live (DefaultConfig). Sources, weakest first: built-in defaults, the YAML
// file named by JOBSTATUS_CONFIG, then JOBSTATUS_* environment variables.
// Each setting's `desc` tag is its documentation: docs/configuration.md is
// generated from these tags and DefaultConfig (see configReference).
type Config struct {
	HTTP        HTTPConfig      `yaml:"http" envPrefix:"HTTP_"`
	AdminAddr   string          `yaml:"admin_addr" env:"ADMIN_ADDR" desc:"admin listener (/healthz, /readyz, /metrics); empty disables it"`
	Internal    InternalConfig  `yaml:"internal" envPrefix:"INTERNAL_"`
	Database    DatabaseConfig  `yaml:"database" envPrefix:"DATABASE_"`
	Auth        AuthConfig      `yaml:"auth" envPrefix:"AUTH_"`
	APIKeysFile string          `yaml:"api_keys_file" env:"API_KEYS_FILE" desc:"clients and the SHA-256 digests of their api-keys (format in docs/api-keys.md); required by serve"`
	Cache       CacheConfig     `yaml:"cache" envPrefix:"CACHE_"`
	Polling     PollingConfig   `yaml:"polling" envPrefix:"POLLING_"`
	ETA         ETAConfig       `yaml:"eta" envPrefix:"ETA_"`
	Sweeper     SweeperConfig   `yaml:"sweeper" envPrefix:"SWEEPER_"`
	Events      EventsConfig    `yaml:"events" envPrefix:"EVENTS_"`
	List        ListConfig      `yaml:"list" envPrefix:"LIST_"`
	RateLimit   RateLimitConfig `yaml:"rate_limit" envPrefix:"RATE_LIMIT_"`
	Log         LogConfig       `yaml:"log" envPrefix:"LOG_"`
}

// HTTPConfig configures the public listener.
type HTTPConfig struct {
	Addr              string        `yaml:"addr" env:"ADDR" desc:"public listen address (127.0.0.1:8080 with serve --dev unless set)"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout" env:"READ_HEADER_TIMEOUT" desc:"time to read a request's headers"`
	ReadTimeout       time.Duration `yaml:"read_timeout" env:"READ_TIMEOUT" desc:"time to read a whole request"`
	WriteTimeout      time.Duration `yaml:"write_timeout" env:"WRITE_TIMEOUT" desc:"time to write a response; must exceed polling.max_wait"`
	IdleTimeout       time.Duration `yaml:"idle_timeout" env:"IDLE_TIMEOUT" desc:"how long an idle keep-alive connection stays open"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout" env:"SHUTDOWN_TIMEOUT" desc:"how long in-flight requests may finish after SIGTERM"`
	MaxInFlight       int           `yaml:"max_in_flight" env:"MAX_IN_FLIGHT" desc:"requests served at once, past it 503 at once; 0 removes the cap, otherwise it must exceed polling.max_waiters"`
}

// InternalConfig configures the write API for workers, on a listener of
// its own.
type InternalConfig struct {
	Addr         string   `yaml:"addr" env:"ADDR" desc:"write API listener for workers (/internal/jobs), opened only when internal.writers is not empty; empty disables it; a free loopback port with serve --dev unless set"`
	Writers      []string `yaml:"writers" env:"WRITERS" envSeparator:"," desc:"token client_ids allowed to write, comma separated; empty: nobody, and the write API does not listen"`
	MaxBodyBytes int      `yaml:"max_body_bytes" env:"MAX_BODY_BYTES" desc:"largest request body of the write API, in bytes (413 beyond); at most 1048576"`
}

// DatabaseConfig configures the PostgreSQL store. An empty URL selects the
// in-memory store.
type DatabaseConfig struct {
	URL             string        `yaml:"url" env:"URL" desc:"a postgres:// URL; empty selects the in-memory store"`
	MaxOpenConns    int           `yaml:"max_open_conns" env:"MAX_OPEN_CONNS" desc:"connections in the pool at most; a few per PostgreSQL core, more only adds contention"`
	MaxIdleConns    int           `yaml:"max_idle_conns" env:"MAX_IDLE_CONNS" desc:"idle connections kept, and opened at start; at most max_open_conns"`
	ConnMaxLifetime time.Duration `yaml:"conn_max_lifetime" env:"CONN_MAX_LIFETIME" desc:"recycle connections after this long; 0 keeps them"`
	QueryTimeout    time.Duration `yaml:"query_timeout" env:"QUERY_TIMEOUT" desc:"deadline of every query"`
}

// AuthConfig configures token verification.
type AuthConfig struct {
	JWKSFile               string        `yaml:"jwks_file" env:"JWKS_FILE" desc:"JWK Set file of the verification keys (set this or jwks_url)"`
	JWKSURL                string        `yaml:"jwks_url" env:"JWKS_URL" desc:"http(s) URL of the verification keys (set this or jwks_file)"`
	Issuer                 string        `yaml:"issuer" env:"ISSUER" desc:"required iss of access tokens; required by serve"`
	Audience               string        `yaml:"audience" env:"AUDIENCE" desc:"required aud of access tokens; required by serve"`
	Algorithms             []string      `yaml:"algorithms" env:"ALGORITHMS" envSeparator:"," desc:"allowed signature algorithms, comma or space separated (HS* and none are never allowed)"`
	Leeway                 time.Duration `yaml:"leeway" env:"LEEWAY" desc:"clock skew tolerated on exp, nbf and iat"`
	RequireATJWTType       bool          `yaml:"require_at_jwt_typ" env:"REQUIRE_AT_JWT_TYP" desc:"true refuses every token whose typ is not at+jwt or application/at+jwt (RFC 9068 section 4); false also accepts JWT and no typ"`
	JWKSRefresh            time.Duration `yaml:"jwks_refresh" env:"JWKS_REFRESH" desc:"how often keys from jwks_url are refreshed"`
	JWKSUnknownKIDInterval time.Duration `yaml:"jwks_unknown_kid_interval" env:"JWKS_UNKNOWN_KID_INTERVAL" desc:"least time between refreshes caused by an unknown kid"`
}

// CacheConfig bounds the in-process caches and what clients may cache.
type CacheConfig struct {
	Jobs           int           `yaml:"jobs" env:"JOBS" desc:"jobs kept in memory by the read model, pending ones included (about 0.5 KiB each)"`
	JobsBytes      int64         `yaml:"jobs_bytes" env:"JOBS_BYTES" desc:"memory the read model's jobs may take at most, in bytes"`
	Tokens         int           `yaml:"tokens" env:"TOKENS" desc:"verified tokens kept in memory, keyed by their SHA-256"`
	TerminalMaxAge time.Duration `yaml:"terminal_max_age" env:"TERMINAL_MAX_AGE" desc:"Cache-Control max-age of DONE and FAILED answers"`
}

// PollingConfig bounds wait-for-change requests and polling hints.
type PollingConfig struct {
	MaxWait       time.Duration `yaml:"max_wait" env:"MAX_WAIT" desc:"cap of Prefer: wait=N; 0 disables waiting"`
	MaxWaiters    int           `yaml:"max_waiters" env:"MAX_WAITERS" desc:"requests held by Prefer: wait at once; must stay below http.max_in_flight"`
	MaxRetryAfter time.Duration `yaml:"max_retry_after" env:"MAX_RETRY_AFTER" desc:"cap of Retry-After on PENDING answers; between 1s and 24h"`
}

// ETAConfig tunes the estimate of new jobs' eta.
type ETAConfig struct {
	Default    time.Duration `yaml:"default" env:"DEFAULT" desc:"eta of new jobs while fewer than min_samples DONE jobs are known"`
	Percentile float64       `yaml:"percentile" env:"PERCENTILE" desc:"percentile of recent durations used as the estimate, in (0, 1]"`
	Window     int           `yaml:"window" env:"WINDOW" desc:"recent DONE jobs the estimate considers"`
	MinSamples int           `yaml:"min_samples" env:"MIN_SAMPLES" desc:"DONE jobs needed before the estimate replaces the default; at most window"`
	Refresh    time.Duration `yaml:"refresh" env:"REFRESH" desc:"how often the history is reloaded from the store"`
}

// SweeperConfig tunes the failing of jobs left PENDING too long.
type SweeperConfig struct {
	Interval       time.Duration `yaml:"interval" env:"INTERVAL" desc:"how often stale jobs are failed; 0 disables the sweeper"`
	PendingTimeout time.Duration `yaml:"pending_timeout" env:"PENDING_TIMEOUT" desc:"jobs PENDING longer than this after creation fail with 504 \"job timed out\""`
	Batch          int           `yaml:"batch" env:"BATCH" desc:"jobs failed per transaction"`
}

// EventsConfig tunes the change stream (GET /patients/composition/jobs/events).
type EventsConfig struct {
	MaxStreams          int           `yaml:"max_streams" env:"MAX_STREAMS" desc:"event streams held at once by this instance, past it 503; below http.max_in_flight together with polling.max_waiters"`
	MaxStreamsPerClient int           `yaml:"max_streams_per_client" env:"MAX_STREAMS_PER_CLIENT" desc:"event streams one client holds at once, past it 429; at most max_streams"`
	Heartbeat           time.Duration `yaml:"heartbeat" env:"HEARTBEAT" desc:"a silent stream sends a \": ping\" comment this often, so proxies keep it open"`
	Retry               time.Duration `yaml:"retry" env:"RETRY" desc:"reconnect delay a stream suggests (retry:) at its start and when the service ends it"`
	Poll                time.Duration `yaml:"poll" env:"POLL" desc:"the change log is read at least this often, even without a notification: the feed's heartbeat; below staleness_bound"`
	StalenessBound      time.Duration `yaml:"staleness_bound" env:"STALENESS_BOUND" desc:"a change is answered by every instance within this long of its commit: past it without a read of the change log's head, the instance reads through to the store"`
	Buffer              int           `yaml:"buffer" env:"BUFFER" desc:"events a stream may lag behind before it is ended (its client resumes with Last-Event-ID)"`
	Retention           time.Duration `yaml:"retention" env:"RETENTION" desc:"how long changes stay resumable; an older Last-Event-ID gets event: reset"`
	RetentionInterval   time.Duration `yaml:"retention_interval" env:"RETENTION_INTERVAL" desc:"how often changes older than retention are deleted"`
	Batch               int           `yaml:"batch" env:"BATCH" desc:"changes read, or deleted, per statement"`
}

// ListConfig bounds pages of GET /patients/composition/jobs.
type ListConfig struct {
	DefaultPageSize int `yaml:"default_page_size" env:"DEFAULT_PAGE_SIZE" desc:"jobs per page when page_size is not given"`
	MaxPageSize     int `yaml:"max_page_size" env:"MAX_PAGE_SIZE" desc:"a larger page_size is capped to this"`
}

// RateLimitConfig is the per-client token bucket: a default and overrides.
type RateLimitConfig struct {
	RPS     float64                `yaml:"rps" env:"RPS" desc:"requests per second each client may sustain; 0 disables the default limit"`
	Burst   int                    `yaml:"burst" env:"BURST" desc:"requests a client may send at once; at least 1 when rps is set"`
	Clients map[string]ClientLimit `yaml:"clients" desc:"per-client overrides, e.g. mis-alpha: {rps: 1000, burst: 2000} (YAML only)"`
}

// ClientLimit overrides the rate limit of one client.
type ClientLimit struct {
	RPS   float64 `yaml:"rps"`
	Burst int     `yaml:"burst"`
}

// LogConfig configures logging.
type LogConfig struct {
	Level  string `yaml:"level" env:"LEVEL" desc:"debug, info, warn or error"`
	Format string `yaml:"format" env:"FORMAT" desc:"json or console (console with serve --dev unless set)"`
	// SampleSuccess logs one in N access-log lines of successful answers.
	SampleSuccess int `yaml:"sample_success" env:"SAMPLE_SUCCESS" desc:"access log: log one in N successful answers (2xx, 304); 1 logs every one, 0 none; errors are always logged"`
}

// DefaultConfig returns the built-in defaults, the only ones: adapters and
// use cases take explicit values and refuse zero or negative ones. They are
// valid together for every Mode (see TestDefaultConfigIsValid) and are what
// docs/configuration.md lists.
func DefaultConfig() Config {
	return Config{
		AdminAddr: "127.0.0.1:9464", // not 9090 (Prometheus) nor another common tool's port: README, Design decisions
		// Loopback: workers run beside the service, or reach it through a
		// proxy that the operator chooses to expose.
		Internal: InternalConfig{Addr: "127.0.0.1:8081", MaxBodyBytes: 16 << 10},
		HTTP: HTTPConfig{
			Addr:              ":8080",
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      40 * time.Second, // above Polling.MaxWait, or held requests are cut off
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   20 * time.Second,
			MaxInFlight:       8192, // above Polling.MaxWaiters, or held requests starve the rest
		},
		Database: DatabaseConfig{
			// On a small PostgreSQL more connections only add contention: 64
			// halved throughput in the load run (README, Figures).
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
		Cache:     CacheConfig{Jobs: 100_000, JobsBytes: 64 << 20, Tokens: 100_000, TerminalMaxAge: time.Hour},
		Polling:   PollingConfig{MaxWait: 30 * time.Second, MaxWaiters: 4096, MaxRetryAfter: 30 * time.Second},
		RateLimit: RateLimitConfig{RPS: 200, Burst: 400},
		ETA:       ETAConfig{Default: 30 * time.Second, Percentile: 0.9, Window: 500, MinSamples: 20, Refresh: 30 * time.Second},
		Sweeper:   SweeperConfig{Interval: time.Minute, PendingTimeout: time.Hour, Batch: 1000},
		Events: EventsConfig{MaxStreams: 2048, MaxStreamsPerClient: 64, Heartbeat: 15 * time.Second, Retry: time.Second,
			Poll: 250 * time.Millisecond, StalenessBound: time.Second, Buffer: 256, Retention: 24 * time.Hour, RetentionInterval: 5 * time.Minute, Batch: 1000},
		List: ListConfig{DefaultPageSize: 50, MaxPageSize: 500},
		Log:  LogConfig{Level: "info", Format: "json", SampleSuccess: 1},
	}
}

// LoadConfig builds the configuration from defaults, the file named by
// JOBSTATUS_CONFIG and the environment. environ is os.Environ() in
// production; tests pass their own. It does not validate: see Validate.
func LoadConfig(environ []string) (Config, error) {
	vars := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	cfg := DefaultConfig()
	if path := vars["JOBSTATUS_CONFIG"]; path != "" {
		if err := decodeFile(path, &cfg); err != nil {
			return Config{}, err
		}
	}
	// caarlos0/env reads a variable set to "" as unset; an empty value is a
	// value here ("empty disables the admin listener", "empty selects the
	// in-memory store"), so apply it first and let the library skip it.
	applyEmptyVariables(&cfg, vars)
	// The library's own errors name the Go field; check the values first so
	// a person reads the variable they set.
	if err := checkEnvironment(vars); err != nil {
		return Config{}, err
	}
	// The library reads an int as 32 bits; checkEnvironment and the YAML
	// file take the platform's int, so an int beyond 2^31 passed the check
	// and got the library's message naming the Go field.
	ints := map[reflect.Type]env.ParserFunc{reflect.TypeFor[int](): func(v string) (any, error) { return strconv.Atoi(v) }}
	if err := env.ParseWithOptions(&cfg, env.Options{Prefix: "JOBSTATUS_", Environment: vars, FuncMap: ints}); err != nil {
		return Config{}, fmt.Errorf("config environment: %w", err)
	}
	cfg.Auth.Algorithms = splitList(cfg.Auth.Algorithms)
	cfg.Internal.Writers = splitList(cfg.Internal.Writers)
	return cfg, nil
}

// decodeFile reads the YAML file at path over cfg; unknown keys and a
// second document are errors.
func decodeFile(path string, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file (JOBSTATUS_CONFIG): %w", err)
	}
	err = yamlfile.Decode(data, cfg)
	if err == nil {
		// A key written with no value ("admin_addr:") is null, which the
		// decoder skips, leaving the default: for text settings it means
		// empty, as it reads.
		var root yaml.Node
		if yaml.Unmarshal(data, &root) == nil {
			applyNullKeys(cfg, &root)
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			// One line per file, however many keys are wrong.
			return fmt.Errorf("config file %s: %s", path, strings.Join(te.Errors, "; "))
		}
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// applyEmptyVariables sets each text or list setting whose variable is
// present with an empty value to empty.
func applyEmptyVariables(cfg *Config, vars map[string]string) {
	for _, s := range settingsOf(cfg) {
		if v, ok := vars[s.env]; s.env != "" && ok && v == "" && clearable(s.value) {
			s.value.Set(reflect.Zero(s.value.Type()))
		}
	}
}

// applyNullKeys sets each text or list setting written in the YAML
// document root as a key with no value to empty.
func applyNullKeys(cfg *Config, root *yaml.Node) {
	nulls := map[string]bool{}
	if len(root.Content) == 1 {
		collectNulls(root.Content[0], "", nulls)
	}
	for _, s := range settingsOf(cfg) {
		if nulls[s.yaml] && clearable(s.value) {
			s.value.Set(reflect.Zero(s.value.Type()))
		}
	}
}

func collectNulls(n *yaml.Node, prefix string, into map[string]bool) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := prefix+n.Content[i].Value, n.Content[i+1]
		switch {
		case val.Kind == yaml.ScalarNode && val.Tag == "!!null":
			into[key] = true
		case val.Kind == yaml.MappingNode:
			collectNulls(val, key+".", into)
		}
	}
}

// clearable reports whether "empty" is a value of the setting: text and
// lists. Numbers and durations have no empty value; an empty one is refused
// by checkEnvironment.
func clearable(v reflect.Value) bool {
	return v.Kind() == reflect.String || v.Kind() == reflect.Slice
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
