package bootstrap

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/apikey"
	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/ports"
)

// AuthModule binds the JWT verifier and the api-key file to their ports.
var AuthModule = fx.Module("auth",
	fx.Provide(
		fx.Annotate(newVerifier, fx.As(fx.Self()), fx.As(new(ports.TokenVerifier))),
		fx.Annotate(newClientStore, fx.As(fx.Self()), fx.As(new(ports.ClientStore))),
	),
	verifierContributions,
	ReloadModule,
)

// verifierContributions are the verifier's readiness check and cache
// collectors, whichever module made the verifier (AuthModule, DevModule).
var verifierContributions = fx.Provide(
	readiness(func(v *jwtauth.Verifier) httpapi.Check { return httpapi.Check{Name: "keys", Fn: v.Ready} }),
	collector(func(v *jwtauth.Verifier) prometheus.Collector {
		tokens := prometheus.Labels{"cache": "tokens"}
		return counterFunc("cache_hits_total", "Cache hits.", tokens, func() float64 { h, _ := v.CacheStats(); return float64(h) })
	}),
	collector(func(v *jwtauth.Verifier) prometheus.Collector {
		tokens := prometheus.Labels{"cache": "tokens"}
		return counterFunc("cache_misses_total", "Cache misses.", tokens, func() float64 { _, x := v.CacheStats(); return float64(x) })
	}),
	collector(func(v *jwtauth.Verifier) prometheus.Collector {
		tokens := prometheus.Labels{"cache": "tokens"}
		return gaugeFunc("cache_entries", "Entries in the cache.", tokens, func() float64 { return float64(v.CacheLen()) })
	}),
	collector(func(v *jwtauth.Verifier) prometheus.Collector {
		return counterFunc("jwks_keys_skipped_total", "JWKs ignored as unusable, one per key per load of the set.", nil,
			func() float64 { return float64(v.SkippedKeys()) })
	}),
)

func newVerifier(lc fx.Lifecycle, cfg Config, logger *zap.Logger) (*jwtauth.Verifier, error) {
	v, err := jwtauth.NewVerifier(jwtauth.Config{
		Issuer:                 cfg.Auth.Issuer,
		Audience:               cfg.Auth.Audience,
		Algorithms:             cfg.Auth.Algorithms,
		Leeway:                 cfg.Auth.Leeway,
		RequireAccessTokenType: cfg.Auth.RequireATJWTType,
		JWKSFile:               cfg.Auth.JWKSFile,
		JWKSURL:                cfg.Auth.JWKSURL,
		JWKSRefresh:            cfg.Auth.JWKSRefresh,
		JWKSUnknownKIDInterval: cfg.Auth.JWKSUnknownKIDInterval,
		CacheSize:              cfg.Cache.Tokens,
	}, logger.Named("jwt"))
	if err != nil {
		key := "auth.jwks_url"
		if cfg.Auth.JWKSFile != "" {
			key = "auth.jwks_file"
		}
		return nil, settingError(key, err)
	}
	lc.Append(fx.StopHook(v.Close))
	return v, nil
}

func newClientStore(cfg Config, logger *zap.Logger) (*apikey.Store, error) {
	s, err := apikey.Load(cfg.APIKeysFile)
	if err != nil {
		return nil, settingError("api_keys_file", err)
	}
	logger.Info("api keys loaded", zap.Int("clients", s.Len()))
	return s, nil
}

// settingError names the setting (variable and YAML key) behind a file or
// URL that could not be used, so the one line printed at start says what
// to fix: "JOBSTATUS_API_KEYS_FILE (api_keys_file): open /x: no such file
// or directory". A file that cannot be read is named by its path error
// alone, without the adapter's own prefix.
func settingError(key string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", name(key), pe)
	}
	return fmt.Errorf("%s: %w", name(key), err)
}
