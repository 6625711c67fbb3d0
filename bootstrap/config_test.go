package bootstrap_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/bootstrap"
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
	require.NoError(t, cfg.Validate(false))
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

func TestValidate(t *testing.T) {
	t.Parallel()
	full := func() bootstrap.Config {
		cfg := bootstrap.DefaultConfig()
		cfg.Auth.JWKSFile, cfg.Auth.Issuer, cfg.Auth.Audience, cfg.APIKeysFile = "/j", "i", "a", "/k"
		return cfg
	}
	tests := []struct {
		name string
		edit func(*bootstrap.Config)
		dev  bool
		want string
	}{
		{"Complete", func(*bootstrap.Config) {}, false, ""},
		{"NoAuthRefused", func(c *bootstrap.Config) { *c = bootstrap.DefaultConfig() }, false, "no auth configuration"},
		{"NoAuthAllowedInDev", func(c *bootstrap.Config) { *c = bootstrap.DefaultConfig() }, true, ""},
		{"NoIssuer", func(c *bootstrap.Config) { c.Auth.Issuer = "" }, false, "JOBSTATUS_AUTH_ISSUER"},
		{"NoAudience", func(c *bootstrap.Config) { c.Auth.Audience = "" }, false, "JOBSTATUS_AUTH_AUDIENCE"},
		{"NoKeys", func(c *bootstrap.Config) { c.Auth.JWKSFile = "" }, false, "JOBSTATUS_AUTH_JWKS_FILE"},
		{"BothKeySources", func(c *bootstrap.Config) { c.Auth.JWKSURL = "https://x/jwks" }, false, "only one"},
		{"BadJWKSURL", func(c *bootstrap.Config) { c.Auth.JWKSFile, c.Auth.JWKSURL = "", "ftp://x" }, false, "http(s)"},
		{"NoAPIKeys", func(c *bootstrap.Config) { c.APIKeysFile = "" }, false, "JOBSTATUS_API_KEYS_FILE"},
		{"SymmetricAlgorithm", func(c *bootstrap.Config) { c.Auth.Algorithms = []string{"HS256"} }, false, `"HS256" is not allowed`},
		{"BadDatabaseURL", func(c *bootstrap.Config) { c.Database.URL = "mysql://x" }, false, "postgres://"},
		{"BadLogLevel", func(c *bootstrap.Config) { c.Log.Level = "loud" }, false, "log.level"},
		{"ZeroTimeout", func(c *bootstrap.Config) { c.HTTP.ReadTimeout = 0 }, false, "http.read_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := full()
			tt.edit(&cfg)
			err := cfg.Validate(tt.dev)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestRedactedDatabaseURL(t *testing.T) {
	t.Parallel()
	cfg := bootstrap.DefaultConfig()
	cfg.Database.URL = "postgres://svc:s3cret@127.0.0.1:5432/jobs?sslmode=disable"
	require.False(t, strings.Contains(cfg.RedactedDatabaseURL(), "s3cret"))
}
