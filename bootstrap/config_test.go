package bootstrap_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/bootstrap"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/testkit"
)

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := bootstrap.LoadConfig(nil)
	require.NoError(t, err)
	require.Equal(t, ":8080", cfg.HTTP.Addr)
	require.Empty(t, cfg.Database.URL, "empty URL selects the in-memory store")
	require.Equal(t, []string{"RS256", "ES256", "EdDSA"}, cfg.Auth.Algorithms)
	require.False(t, cfg.AuthConfigured())
}

// TestLoadConfigInternal: writers are a comma (or space) separated list in
// the environment, a list in the file; an empty address disables the
// write API and is not replaced by the default.
func TestLoadConfigInternal(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(file, []byte("internal:\n  writers: [worker-file]\n  max_body_bytes: 4096\n"), 0o600))
	tests := []struct {
		name        string
		env         []string
		wantAddr    string
		wantWriters []string
		wantBody    int
	}{
		{"Defaults", nil, "127.0.0.1:8081", nil, 16384},
		{"Writers", []string{"JOBSTATUS_INTERNAL_WRITERS=worker-sign, worker-refine,,"}, "127.0.0.1:8081", []string{"worker-sign", "worker-refine"}, 16384},
		{"EmptyWriters", []string{"JOBSTATUS_INTERNAL_WRITERS="}, "127.0.0.1:8081", nil, 16384},
		{"Disabled", []string{"JOBSTATUS_INTERNAL_ADDR="}, "", nil, 16384},
		{"File", []string{"JOBSTATUS_CONFIG=" + file}, "127.0.0.1:8081", []string{"worker-file"}, 4096},
		{"EnvironmentWins", []string{"JOBSTATUS_CONFIG=" + file, "JOBSTATUS_INTERNAL_WRITERS=worker-env", "JOBSTATUS_INTERNAL_ADDR=127.0.0.1:7000"},
			"127.0.0.1:7000", []string{"worker-env"}, 4096},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := bootstrap.LoadConfig(tt.env)
			require.NoError(t, err)
			require.Equal(t, tt.wantAddr, cfg.Internal.Addr)
			require.Equal(t, tt.wantWriters, cfg.Internal.Writers)
			require.Equal(t, tt.wantBody, cfg.Internal.MaxBodyBytes)
		})
	}
}

func TestLoadConfigEnvironmentWinsOverFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
http:
  addr: 127.0.0.1:9000
  shutdown_timeout: 7s
database:
  url: postgres://file@127.0.0.1/db
auth:
  issuer: https://file.example
  audience: from-file
  algorithms: [ES256]
api_keys_file: /etc/keys.yaml
`), 0o600))
	cfg, err := bootstrap.LoadConfig([]string{
		"JOBSTATUS_CONFIG=" + file,
		"JOBSTATUS_HTTP_ADDR=127.0.0.1:9100",
		"JOBSTATUS_AUTH_ALGORITHMS=RS256, EdDSA",
		"JOBSTATUS_AUTH_JWKS_FILE=/etc/jwks.json",
	})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9100", cfg.HTTP.Addr, "environment wins")
	require.Equal(t, 7*time.Second, cfg.HTTP.ShutdownTimeout, "file beats default")
	require.Equal(t, "https://file.example", cfg.Auth.Issuer)
	require.Equal(t, []string{"RS256", "EdDSA"}, cfg.Auth.Algorithms)
	require.Equal(t, "/etc/jwks.json", cfg.Auth.JWKSFile)
	require.Equal(t, "/etc/keys.yaml", cfg.APIKeysFile)
	require.NoError(t, cfg.Validate(bootstrap.ModeServe))
}

func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.yaml")
	require.NoError(t, os.WriteFile(typo, []byte("htp:\n  addr: x\n"), 0o600))
	_, err := bootstrap.LoadConfig([]string{"JOBSTATUS_CONFIG=" + typo})
	require.ErrorContains(t, err, "htp")
	_, err = bootstrap.LoadConfig([]string{"JOBSTATUS_CONFIG=" + filepath.Join(dir, "missing.yaml")})
	require.Error(t, err)
	_, err = bootstrap.LoadConfig([]string{"JOBSTATUS_HTTP_SHUTDOWN_TIMEOUT=soon"})
	require.Error(t, err)
}

func TestRedactedDatabaseURL(t *testing.T) {
	t.Parallel()
	cfg := bootstrap.DefaultConfig()
	cfg.Database.URL = "postgres://svc:s3cret@127.0.0.1:5432/jobs?sslmode=disable"
	require.False(t, strings.Contains(cfg.RedactedDatabaseURL(), "s3cret"))
}

func TestLoadConfigNamesTheVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  string
		want string
	}{
		{"JOBSTATUS_HTTP_SHUTDOWN_TIMEOUT=soon", `JOBSTATUS_HTTP_SHUTDOWN_TIMEOUT (http.shutdown_timeout): "soon" is not a duration such as 30s or 5m`},
		{"JOBSTATUS_DATABASE_MAX_IDLE_CONNS=many", `JOBSTATUS_DATABASE_MAX_IDLE_CONNS (database.max_idle_conns): "many" is not a whole number`},
		{"JOBSTATUS_DATABASE_MAX_IDLE_CONNS=1.5", `JOBSTATUS_DATABASE_MAX_IDLE_CONNS (database.max_idle_conns): "1.5" is not a whole number`},
		{"JOBSTATUS_ETA_PERCENTILE=most", `JOBSTATUS_ETA_PERCENTILE (eta.percentile): "most" is not a number`},
		{"JOBSTATUS_AUTH_LEEWAY=30", `JOBSTATUS_AUTH_LEEWAY (auth.leeway): "30" is not a duration such as 30s or 5m`},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Parallel()
			_, err := bootstrap.LoadConfig([]string{tt.env})
			require.EqualError(t, err, tt.want)
		})
	}
}

// TestLoadConfigRefusesASecondDocument: the keys of a second YAML
// document in the config file were ignored without a word (a file
// concatenated with "---" lost its overrides); a trailing "---" is fine.
func TestLoadConfigRefusesASecondDocument(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	two := filepath.Join(dir, "two.yaml")
	require.NoError(t, os.WriteFile(two, []byte("log:\n  level: warn\n---\nauth:\n  require_at_jwt_typ: true\n"), 0o600))
	_, err := bootstrap.LoadConfig([]string{"JOBSTATUS_CONFIG=" + two})
	require.EqualError(t, err, "config file "+two+": line 4: a second YAML document; the file must hold one (its keys would be ignored)")
	trailing := filepath.Join(dir, "trailing.yaml")
	require.NoError(t, os.WriteFile(trailing, []byte("log:\n  level: warn\n---\n"), 0o600))
	cfg, err := bootstrap.LoadConfig([]string{"JOBSTATUS_CONFIG=" + trailing})
	require.NoError(t, err)
	require.Equal(t, "warn", cfg.Log.Level)
}

func TestLoadConfigFileErrorIsOneLine(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(file, []byte("htp:\n  addr: x\ndatabase:\n  max_idle_conns: many\n"), 0o600))
	_, err := bootstrap.LoadConfig([]string{"JOBSTATUS_CONFIG=" + file})
	require.ErrorContains(t, err, file)
	require.ErrorContains(t, err, "htp")
	require.ErrorContains(t, err, "many")
	require.NotContains(t, err.Error(), "\n")
}

// full is a configuration valid for serving: the defaults plus auth.
func full() bootstrap.Config {
	cfg := bootstrap.DefaultConfig()
	cfg.Auth.JWKSFile, cfg.Auth.Issuer, cfg.Auth.Audience, cfg.APIKeysFile = "/j", "i", "a", "/k"
	return cfg
}

// TestDefaultConfigIsValid: the defaults work together, in every mode
// (once, the documented waiter cap exceeded the in-flight cap).
func TestDefaultConfigIsValid(t *testing.T) {
	t.Parallel()
	for name, mode := range map[string]bootstrap.Mode{"Dev": bootstrap.ModeDev, "Tool": bootstrap.ModeTool} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, bootstrap.DefaultConfig().Validate(mode))
		})
	}
	t.Run("ServeWithAuth", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, full().Validate(bootstrap.ModeServe))
	})
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*bootstrap.Config)
		mode bootstrap.Mode
		want string // the whole message; empty: valid
	}{
		{"NoAuthRefused", func(c *bootstrap.Config) { *c = bootstrap.DefaultConfig() }, bootstrap.ModeServe, "no auth configuration: set JOBSTATUS_AUTH_JWKS_FILE or JOBSTATUS_AUTH_JWKS_URL, " +
			"JOBSTATUS_AUTH_ISSUER, JOBSTATUS_AUTH_AUDIENCE and JOBSTATUS_API_KEYS_FILE, or run with --dev"},
		{"NoAuthAllowedInDev", func(c *bootstrap.Config) { *c = bootstrap.DefaultConfig() }, bootstrap.ModeDev, ""},
		{"NoIssuer", func(c *bootstrap.Config) { c.Auth.Issuer = "" }, bootstrap.ModeServe, "JOBSTATUS_AUTH_ISSUER (auth.issuer) is required"},
		{"NoAudience", func(c *bootstrap.Config) { c.Auth.Audience = "" }, bootstrap.ModeServe, "JOBSTATUS_AUTH_AUDIENCE (auth.audience) is required"},
		{"NoKeys", func(c *bootstrap.Config) { c.Auth.JWKSFile = "" }, bootstrap.ModeServe, "JOBSTATUS_AUTH_JWKS_FILE (auth.jwks_file) or JOBSTATUS_AUTH_JWKS_URL (auth.jwks_url) is required"},
		{"BothKeySources", func(c *bootstrap.Config) { c.Auth.JWKSURL = "https://x/jwks" }, bootstrap.ModeServe, "JOBSTATUS_AUTH_JWKS_FILE (auth.jwks_file) and JOBSTATUS_AUTH_JWKS_URL (auth.jwks_url): set only one"},
		{"BadJWKSURL", func(c *bootstrap.Config) { c.Auth.JWKSFile, c.Auth.JWKSURL = "", "ftp://x" }, bootstrap.ModeServe, "JOBSTATUS_AUTH_JWKS_URL (auth.jwks_url) must be an http(s) URL"},
		{"NoAPIKeys", func(c *bootstrap.Config) { c.APIKeysFile = "" }, bootstrap.ModeServe, "JOBSTATUS_API_KEYS_FILE (api_keys_file) is required"},
		{"SymmetricAlgorithm", func(c *bootstrap.Config) { c.Auth.Algorithms = []string{"HS256"} }, bootstrap.ModeServe,
			`JOBSTATUS_AUTH_ALGORITHMS (auth.algorithms) "HS256" is not allowed (choose from RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512,EdDSA)`},
		{"NoAlgorithm", func(c *bootstrap.Config) { c.Auth.Algorithms = nil }, bootstrap.ModeServe, "JOBSTATUS_AUTH_ALGORITHMS (auth.algorithms) must name at least one algorithm"},
		{"BadDatabaseURLNotEchoed", func(c *bootstrap.Config) { c.Database.URL = "mysql://u:secret@x" }, bootstrap.ModeTool, "JOBSTATUS_DATABASE_URL (database.url) must be a postgres:// URL"},
		{"BogusSSLMode", func(c *bootstrap.Config) { c.Database.URL = "postgres://u:secret@127.0.0.1/db?sslmode=bogus" }, bootstrap.ModeServe,
			`JOBSTATUS_DATABASE_URL (database.url) is refused by the PostgreSQL driver: wrong value for "sslmode": "bogus" is not supported; supported values are disable, allow, prefer, require, verify-full, or verify-ca`},
		{"BogusConnectTimeout", func(c *bootstrap.Config) { c.Database.URL = "postgres://u:secret@127.0.0.1/db?connect_timeout=soon" }, bootstrap.ModeTool,
			`JOBSTATUS_DATABASE_URL (database.url) is refused by the PostgreSQL driver: wrong value for "connect_timeout": strconv.ParseInt: parsing "soon": invalid syntax`},
		{"BogusSessionAttrs", func(c *bootstrap.Config) {
			c.Database.URL = "postgres://u:secret@127.0.0.1/db?target_session_attrs=any-old"
		}, bootstrap.ModeServe,
			`JOBSTATUS_DATABASE_URL (database.url) is refused by the PostgreSQL driver: wrong value for "target_session_attrs": "any-old" is not supported; supported values are any, read-write, read-only, primary, standby, or prefer-standby`},
		{"BadPortNotEchoed", func(c *bootstrap.Config) { c.Database.URL = "postgres://u:secret@127.0.0.1:54x/db" }, bootstrap.ModeServe,
			"JOBSTATUS_DATABASE_URL (database.url) must be a postgres:// URL"},
		{"GoodSSLMode", func(c *bootstrap.Config) {
			c.Database.URL = "postgres://u:secret@127.0.0.1/db?sslmode=verify-full&connect_timeout=5"
		}, bootstrap.ModeServe, ""},
		{"BadLogLevel", func(c *bootstrap.Config) { c.Log.Level = "loud" }, bootstrap.ModeTool, `JOBSTATUS_LOG_LEVEL (log.level) must be debug, info, warn or error; got "loud"`},
		{"EmptyLogLevel", func(c *bootstrap.Config) { c.Log.Level = "" }, bootstrap.ModeTool, `JOBSTATUS_LOG_LEVEL (log.level) must be debug, info, warn or error; got ""`},
		{"EmptyLogFormat", func(c *bootstrap.Config) { c.Log.Format = "" }, bootstrap.ModeTool, `JOBSTATUS_LOG_FORMAT (log.format) must be json or console; got ""`},
		{"BlankIssuer", func(c *bootstrap.Config) { c.Auth.Issuer = " " }, bootstrap.ModeServe, `JOBSTATUS_AUTH_ISSUER (auth.issuer) must not be blank or start or end with spaces; got " "`},
		{"PaddedIssuer", func(c *bootstrap.Config) { c.Auth.Issuer = "https://idp.example " }, bootstrap.ModeServe,
			`JOBSTATUS_AUTH_ISSUER (auth.issuer) must not be blank or start or end with spaces; got "https://idp.example "`},
		{"BlankAudience", func(c *bootstrap.Config) { c.Auth.Audience = "\t" }, bootstrap.ModeServe, `JOBSTATUS_AUTH_AUDIENCE (auth.audience) must not be blank or start or end with spaces; got "\t"`},
		{"PaddedAudience", func(c *bootstrap.Config) { c.Auth.Audience = " jobstatus" }, bootstrap.ModeServe,
			`JOBSTATUS_AUTH_AUDIENCE (auth.audience) must not be blank or start or end with spaces; got " jobstatus"`},
		{"WriterWithSpace", func(c *bootstrap.Config) { c.Internal.Writers = []string{"worker", "bad id!"} }, bootstrap.ModeServe,
			`JOBSTATUS_INTERNAL_WRITERS (internal.writers) "bad id!": client id ` + domain.ClientIDRule},
		{"WriterTooLong", func(c *bootstrap.Config) { c.Internal.Writers = []string{strings.Repeat("w", 300)} }, bootstrap.ModeTool,
			`JOBSTATUS_INTERNAL_WRITERS (internal.writers) "` + strings.Repeat("w", 300) + `": client id ` + domain.ClientIDRule},
		{"RateLimitClientWithSpace", func(c *bootstrap.Config) {
			c.RateLimit.Clients = map[string]bootstrap.ClientLimit{"mis alpha": {RPS: 1, Burst: 1}}
		}, bootstrap.ModeTool,
			`rate_limit.clients "mis alpha": client id ` + domain.ClientIDRule},
		{"PortOutOfRange", func(c *bootstrap.Config) { c.HTTP.Addr = ":99999" }, bootstrap.ModeServe, `JOBSTATUS_HTTP_ADDR (http.addr) must have a port from 0 to 65535; got ":99999"`},
		{"NegativePort", func(c *bootstrap.Config) { c.HTTP.Addr = ":-1" }, bootstrap.ModeDev, `JOBSTATUS_HTTP_ADDR (http.addr) must have a port from 0 to 65535; got ":-1"`},
		{"NamedPort", func(c *bootstrap.Config) { c.HTTP.Addr = "127.0.0.1:http" }, bootstrap.ModeServe, `JOBSTATUS_HTTP_ADDR (http.addr) must have a port from 0 to 65535; got "127.0.0.1:http"`},
		{"AdminPortOutOfRange", func(c *bootstrap.Config) { c.AdminAddr = "127.0.0.1:65536" }, bootstrap.ModeServe,
			`JOBSTATUS_ADMIN_ADDR (admin_addr) must have a port from 0 to 65535; got "127.0.0.1:65536"`},
		{"InternalPortOutOfRange", func(c *bootstrap.Config) { c.Internal.Addr = "127.0.0.1:70000" }, bootstrap.ModeServe,
			`JOBSTATUS_INTERNAL_ADDR (internal.addr) must have a port from 0 to 65535; got "127.0.0.1:70000"`},
		{"HighestPort", func(c *bootstrap.Config) { c.HTTP.Addr = ":65535" }, bootstrap.ModeServe, ""},
		{"EmptyPortIsAnyPort", func(c *bootstrap.Config) { c.HTTP.Addr = "127.0.0.1:" }, bootstrap.ModeServe, ""},
		{"BadLogFormat", func(c *bootstrap.Config) { c.Log.Format = "xml" }, bootstrap.ModeDev, `JOBSTATUS_LOG_FORMAT (log.format) must be json or console; got "xml"`},
		{"ZeroTimeout", func(c *bootstrap.Config) { c.HTTP.ReadTimeout = 0 }, bootstrap.ModeServe, "JOBSTATUS_HTTP_READ_TIMEOUT (http.read_timeout) must be positive; got 0s"},
		{"EmptyAddr", func(c *bootstrap.Config) { c.HTTP.Addr = "" }, bootstrap.ModeServe, `JOBSTATUS_HTTP_ADDR (http.addr) must be host:port, e.g. 127.0.0.1:8080 or :8080; got ""`},
		{"AddrWithoutPort", func(c *bootstrap.Config) { c.HTTP.Addr = "localhost" }, bootstrap.ModeDev, `JOBSTATUS_HTTP_ADDR (http.addr) must be host:port, e.g. 127.0.0.1:8080 or :8080; got "localhost"`},
		{"AddrIgnoredByTools", func(c *bootstrap.Config) { c.HTTP.Addr = "" }, bootstrap.ModeTool, ""},
		{"AdminDisabled", func(c *bootstrap.Config) { c.AdminAddr = "" }, bootstrap.ModeServe, ""},
		{"BadAdminAddr", func(c *bootstrap.Config) { c.AdminAddr = "9090" }, bootstrap.ModeServe, `JOBSTATUS_ADMIN_ADDR (admin_addr) must be host:port, e.g. 127.0.0.1:8080 or :8080; got "9090"`},
		{"InternalDisabled", func(c *bootstrap.Config) { c.Internal.Addr = "" }, bootstrap.ModeServe, ""},
		{"BadInternalAddr", func(c *bootstrap.Config) { c.Internal.Addr = "8081" }, bootstrap.ModeServe,
			`JOBSTATUS_INTERNAL_ADDR (internal.addr) must be host:port, e.g. 127.0.0.1:8080 or :8080; got "8081"`},
		// Two listeners on one port: the second fails to start, or takes
		// the other's traffic.
		{"InternalOnAdminPort", func(c *bootstrap.Config) { c.Internal.Addr = "127.0.0.1:9464" }, bootstrap.ModeServe,
			`JOBSTATUS_INTERNAL_ADDR (internal.addr) must not use the port of JOBSTATUS_ADMIN_ADDR (admin_addr) = "127.0.0.1:9464"; got "127.0.0.1:9464"`},
		{"InternalOnPublicPortAllInterfaces", func(c *bootstrap.Config) { c.Internal.Addr = "127.0.0.1:8080" }, bootstrap.ModeDev,
			`JOBSTATUS_INTERNAL_ADDR (internal.addr) must not use the port of JOBSTATUS_HTTP_ADDR (http.addr) = ":8080"; got "127.0.0.1:8080"`},
		{"AdminOnPublicPort", func(c *bootstrap.Config) { c.AdminAddr = "0.0.0.0:8080" }, bootstrap.ModeServe,
			`JOBSTATUS_ADMIN_ADDR (admin_addr) must not use the port of JOBSTATUS_HTTP_ADDR (http.addr) = ":8080"; got "0.0.0.0:8080"`},
		{"SamePortOtherHosts", func(c *bootstrap.Config) { c.HTTP.Addr, c.Internal.Addr = "10.0.0.1:8081", "127.0.0.1:8081" }, bootstrap.ModeServe, ""},
		{"AnyFreePorts", func(c *bootstrap.Config) {
			c.HTTP.Addr, c.Internal.Addr, c.AdminAddr = ":0", "127.0.0.1:0", "127.0.0.1:0"
		}, bootstrap.ModeServe, ""},
		{"InternalPortIgnoredByTools", func(c *bootstrap.Config) { c.Internal.Addr = "127.0.0.1:9464" }, bootstrap.ModeTool, ""},
		{"ZeroInternalBody", func(c *bootstrap.Config) { c.Internal.MaxBodyBytes = 0 }, bootstrap.ModeServe,
			"JOBSTATUS_INTERNAL_MAX_BODY_BYTES (internal.max_body_bytes) must be in 1..1048576; got 0"},
		{"HugeInternalBody", func(c *bootstrap.Config) { c.Internal.MaxBodyBytes = 1<<20 + 1 }, bootstrap.ModeTool,
			"JOBSTATUS_INTERNAL_MAX_BODY_BYTES (internal.max_body_bytes) must be in 1..1048576; got 1048577"},
		{"LargestInternalBody", func(c *bootstrap.Config) { c.Internal.MaxBodyBytes = 1 << 20 }, bootstrap.ModeServe, ""},
		// The pool: more idle than open connections made serve wait 15 s
		// for connections that can never open; a negative count panicked.
		{"MoreIdleThanOpen", func(c *bootstrap.Config) { c.Database.MaxIdleConns = 32 }, bootstrap.ModeServe,
			"JOBSTATUS_DATABASE_MAX_IDLE_CONNS (database.max_idle_conns) must not exceed JOBSTATUS_DATABASE_MAX_OPEN_CONNS (database.max_open_conns) = 16; got 32"},
		{"NegativeIdle", func(c *bootstrap.Config) { c.Database.MaxIdleConns = -3 }, bootstrap.ModeTool,
			"JOBSTATUS_DATABASE_MAX_IDLE_CONNS (database.max_idle_conns) must not be negative; got -3"},
		{"NoIdleConnections", func(c *bootstrap.Config) { c.Database.MaxIdleConns = 0 }, bootstrap.ModeServe, ""},
		{"ZeroOpen", func(c *bootstrap.Config) { c.Database.MaxOpenConns, c.Database.MaxIdleConns = 0, 0 }, bootstrap.ModeServe,
			"JOBSTATUS_DATABASE_MAX_OPEN_CONNS (database.max_open_conns) must be positive; got 0"},
		{"ConnectionsKeptForever", func(c *bootstrap.Config) { c.Database.ConnMaxLifetime = 0 }, bootstrap.ModeServe, ""},
		// The documented waiter cap once exceeded the in-flight cap.
		{"WaitersAtInFlight", func(c *bootstrap.Config) { c.Polling.MaxWaiters = 8192 }, bootstrap.ModeServe,
			"JOBSTATUS_HTTP_MAX_IN_FLIGHT (http.max_in_flight) must exceed JOBSTATUS_POLLING_MAX_WAITERS (polling.max_waiters) = 8192, or held requests starve the rest; got 8192"},
		{"NoInFlightCap", func(c *bootstrap.Config) { c.HTTP.MaxInFlight = 0 }, bootstrap.ModeServe, ""},
		{"WriteTimeoutBelowWait", func(c *bootstrap.Config) { c.HTTP.WriteTimeout = 30 * time.Second }, bootstrap.ModeServe,
			"JOBSTATUS_HTTP_WRITE_TIMEOUT (http.write_timeout) must exceed JOBSTATUS_POLLING_MAX_WAIT (polling.max_wait) = 30s, or held requests are cut off; got 30s"},
		{"RetryAfterBelowSecond", func(c *bootstrap.Config) { c.Polling.MaxRetryAfter = 500 * time.Millisecond }, bootstrap.ModeServe,
			"JOBSTATUS_POLLING_MAX_RETRY_AFTER (polling.max_retry_after) must be between 1s and 24h; got 500ms"},
		// Overdue once looped forever on a step over half a time.Duration's range.
		{"RetryAfterAboveADay", func(c *bootstrap.Config) { c.Polling.MaxRetryAfter = 2000000 * time.Hour }, bootstrap.ModeServe,
			"JOBSTATUS_POLLING_MAX_RETRY_AFTER (polling.max_retry_after) must be between 1s and 24h; got 2000000h"},
		{"RetryAfterADay", func(c *bootstrap.Config) { c.Polling.MaxRetryAfter = 24 * time.Hour }, bootstrap.ModeServe, ""},
		{"ZeroMinSamples", func(c *bootstrap.Config) { c.ETA.MinSamples = 0 }, bootstrap.ModeServe, "JOBSTATUS_ETA_MIN_SAMPLES (eta.min_samples) must be positive; got 0"},
		{"MinSamplesAboveWindow", func(c *bootstrap.Config) { c.ETA.MinSamples = 501 }, bootstrap.ModeTool,
			"JOBSTATUS_ETA_MIN_SAMPLES (eta.min_samples) must not exceed JOBSTATUS_ETA_WINDOW (eta.window) = 500, or the default is used forever; got 501"},
		{"PercentileAboveOne", func(c *bootstrap.Config) { c.ETA.Percentile = 1.5 }, bootstrap.ModeServe, "JOBSTATUS_ETA_PERCENTILE (eta.percentile) must be in (0, 1]; got 1.5"},
		{"PercentileZero", func(c *bootstrap.Config) { c.ETA.Percentile = 0 }, bootstrap.ModeServe, "JOBSTATUS_ETA_PERCENTILE (eta.percentile) must be in (0, 1]; got 0"},
		{"PercentileNaN", func(c *bootstrap.Config) { c.ETA.Percentile = math.NaN() }, bootstrap.ModeServe, "JOBSTATUS_ETA_PERCENTILE (eta.percentile) must be a number not below 0; got NaN"},
		{"RateInfinite", func(c *bootstrap.Config) { c.RateLimit.RPS = math.Inf(1) }, bootstrap.ModeServe, "JOBSTATUS_RATE_LIMIT_RPS (rate_limit.rps) must be a number not below 0; got +Inf"},
		{"RateWithoutBurst", func(c *bootstrap.Config) { c.RateLimit.Burst = 0 }, bootstrap.ModeServe,
			"JOBSTATUS_RATE_LIMIT_BURST (rate_limit.burst) must be at least 1 when JOBSTATUS_RATE_LIMIT_RPS (rate_limit.rps) is set; got 0"},
		{"NoRateLimit", func(c *bootstrap.Config) { c.RateLimit.RPS, c.RateLimit.Burst = 0, 0 }, bootstrap.ModeServe, ""},
		{"ClientWithoutBurst", func(c *bootstrap.Config) { c.RateLimit.Clients = map[string]bootstrap.ClientLimit{"mis-a": {RPS: 5}} }, bootstrap.ModeServe,
			"rate_limit.clients mis-a: burst must be at least 1 when rps is set; got 0"},
		{"ClientNegativeRate", func(c *bootstrap.Config) {
			c.RateLimit.Clients = map[string]bootstrap.ClientLimit{"mis-a": {RPS: -1, Burst: 1}}
		}, bootstrap.ModeServe,
			"rate_limit.clients mis-a: rps must be a number not below 0; got -1"},
		{"ClientUnlimited", func(c *bootstrap.Config) { c.RateLimit.Clients = map[string]bootstrap.ClientLimit{"mis-a": {}} }, bootstrap.ModeServe, ""},
		{"SweeperDisabled", func(c *bootstrap.Config) { c.Sweeper.Interval = 0 }, bootstrap.ModeServe, ""},
		{"ZeroBatch", func(c *bootstrap.Config) { c.Sweeper.Batch = 0 }, bootstrap.ModeServe, "JOBSTATUS_SWEEPER_BATCH (sweeper.batch) must be positive; got 0"},
		{"ZeroUnknownKIDInterval", func(c *bootstrap.Config) { c.Auth.JWKSUnknownKIDInterval = 0 }, bootstrap.ModeServe,
			"JOBSTATUS_AUTH_JWKS_UNKNOWN_KID_INTERVAL (auth.jwks_unknown_kid_interval) must be positive; got 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := full()
			tt.edit(&cfg)
			err := cfg.Validate(tt.mode)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.want)
		})
	}
}

// TestValidateRefusesEveryNegativeNumber sets each numeric setting, found
// by reflection, to a negative value: each must be refused in one line
// naming its variable. A new setting is covered without a new test line.
func TestValidateRefusesEveryNegativeNumber(t *testing.T) {
	t.Parallel()
	var count int
	for _, s := range numericSettings(reflect.TypeFor[bootstrap.Config](), "JOBSTATUS_", nil) {
		count++
		env := s.env
		t.Run(env, func(t *testing.T) {
			t.Parallel()
			cfg := full()
			f := reflect.ValueOf(&cfg).Elem().FieldByIndex(s.index)
			if f.Kind() == reflect.Float64 {
				f.SetFloat(-1)
			} else {
				f.SetInt(-1)
			}
			for _, mode := range []bootstrap.Mode{bootstrap.ModeServe, bootstrap.ModeDev, bootstrap.ModeTool} {
				err := cfg.Validate(mode)
				require.Error(t, err, "mode %d", mode)
				var line string
				for l := range strings.Lines(err.Error()) {
					if strings.HasPrefix(l, env+" (") {
						line = strings.TrimSuffix(l, "\n")
					}
				}
				require.Regexp(t, `^`+env+` \([a-z_.]+\) must (not be negative|be a number not below 0); got -1(ns)?$`, line, "mode %d: %v", mode, err)
			}
		})
	}
	require.GreaterOrEqual(t, count, 25, "every duration and count of Config")
}

// numericSetting is a numeric field of Config and its variable.
type numericSetting struct {
	index []int
	env   string
}

// numericSettings lists every int, float and duration setting of t.
func numericSettings(t reflect.Type, prefix string, index []int) []numericSetting {
	var out []numericSetting
	for i := range t.NumField() {
		f := t.Field(i)
		at := append(slices.Clone(index), i)
		switch f.Type.Kind() {
		case reflect.Struct:
			out = append(out, numericSettings(f.Type, prefix+f.Tag.Get("envPrefix"), at)...)
		case reflect.Int, reflect.Int64, reflect.Float64:
			out = append(out, numericSetting{index: at, env: prefix + f.Tag.Get("env")})
		}
	}
	return out
}

// TestLoadConfigEmptyVariableDisablesAListener: the env library skips
// variables set to "", so JOBSTATUS_ADMIN_ADDR= once left the admin
// listener on its default address although the docs say empty disables it.
func TestLoadConfigEmptyVariableDisablesAListener(t *testing.T) {
	t.Parallel()
	cfg, err := bootstrap.LoadConfig([]string{"JOBSTATUS_ADMIN_ADDR=", "JOBSTATUS_INTERNAL_ADDR=", "JOBSTATUS_AUTH_ALGORITHMS="})
	require.NoError(t, err)
	require.Empty(t, cfg.AdminAddr)
	require.Empty(t, cfg.Internal.Addr)
	require.Empty(t, cfg.Auth.Algorithms, "an empty list is refused by Validate, not replaced by the default")
}

// TestEmptyMeansEmpty: every setting documented as "empty means ..." can be
// made empty through the environment (a variable set to nothing, which
// caarlos0/env alone reads as unset) and through YAML (an empty string or a
// key with no value), over a non-empty file or default.
func TestEmptyMeansEmpty(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(file, []byte("admin_addr: 127.0.0.1:9999\ndatabase:\n  url: postgres://file@127.0.0.1/db\n"), 0o600))
	tests := []struct {
		name string
		env  []string
		yaml string // written as the config file when set
		got  func(bootstrap.Config) string
	}{
		{"AdminAddrEnvOverDefault", []string{"JOBSTATUS_ADMIN_ADDR="}, "", func(c bootstrap.Config) string { return c.AdminAddr }},
		{"AdminAddrEnvOverFile", []string{"JOBSTATUS_CONFIG=" + file, "JOBSTATUS_ADMIN_ADDR="}, "", func(c bootstrap.Config) string { return c.AdminAddr }},
		{"AdminAddrYAMLEmptyString", nil, "admin_addr: \"\"\n", func(c bootstrap.Config) string { return c.AdminAddr }},
		{"AdminAddrYAMLNoValue", nil, "admin_addr:\n", func(c bootstrap.Config) string { return c.AdminAddr }},
		{"DatabaseURLEnvOverFile", []string{"JOBSTATUS_CONFIG=" + file, "JOBSTATUS_DATABASE_URL="}, "", func(c bootstrap.Config) string { return c.Database.URL }},
		{"DatabaseURLYAMLNoValue", nil, "database:\n  url:\n", func(c bootstrap.Config) string { return c.Database.URL }},
		{"LogFormatEnv", []string{"JOBSTATUS_LOG_FORMAT="}, "", func(c bootstrap.Config) string { return c.Log.Format }},
		{"AlgorithmsEnv", []string{"JOBSTATUS_AUTH_ALGORITHMS="}, "", func(c bootstrap.Config) string { return strings.Join(c.Auth.Algorithms, ",") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := tt.env
			if tt.yaml != "" {
				f := filepath.Join(t.TempDir(), "c.yaml")
				require.NoError(t, os.WriteFile(f, []byte(tt.yaml), 0o600))
				env = append(env, "JOBSTATUS_CONFIG="+f)
			}
			cfg, err := bootstrap.LoadConfig(env)
			require.NoError(t, err)
			require.Empty(t, tt.got(cfg))
		})
	}
}

// TestEmptyAdminAddrDisablesTheListener: with JOBSTATUS_ADMIN_ADDR set to
// nothing the configuration is valid and names no admin listener.
func TestEmptyAdminAddrDisablesTheListener(t *testing.T) {
	t.Parallel()
	cfg, err := bootstrap.LoadConfig([]string{"JOBSTATUS_ADMIN_ADDR="})
	require.NoError(t, err)
	require.NoError(t, cfg.Validate(bootstrap.ModeDev))
	require.Empty(t, cfg.AdminAddr)
}

// TestRequireATJWTTypeReachesTheVerifier: auth.require_at_jwt_typ, from the
// file or the environment, makes the served verifier refuse typ JWT; by
// default JWT is accepted.
func TestRequireATJWTTypeReachesTheVerifier(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(file, []byte("auth:\n  require_at_jwt_typ: true\n"), 0o600))
	for name, environ := range map[string][]string{
		"Default":     nil,
		"Environment": {"JOBSTATUS_AUTH_REQUIRE_AT_JWT_TYP=true"},
		"File":        {"JOBSTATUS_CONFIG=" + file},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			loaded, err := bootstrap.LoadConfig(environ)
			require.NoError(t, err)
			require.Equal(t, name != "Default", loaded.Auth.RequireATJWTType)
			kit := testkit.New(t)
			cfg := serveConfig(t)
			cfg.Auth.JWKSFile, cfg.APIKeysFile = kit.JWKSFile, kit.KeysFile
			cfg.Auth.RequireATJWTType = loaded.Auth.RequireATJWTType
			var v ports.TokenVerifier
			startServe(t, cfg, &v)
			h := kit.Header()
			h["typ"] = "JWT"
			_, err = v.Verify(context.Background(), kit.Sign(h, testkit.Claims(testkit.ClientA)))
			require.Equal(t, name == "Default", err == nil, "%v", err)
		})
	}
}
