package bootstrap

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/apikey"
	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/adapters/reload"
)

// Labels of the reloaded files in metrics, logs and /readyz.
const (
	fileAPIKeys = "api_keys"
	fileJWKS    = "jwks"
)

// ReloadModule reloads the api-keys file and the JWKS (file or URL) on
// SIGHUP, and the files when they change on disk, keeping the last good
// set when a new one is refused (adapters/reload).
var ReloadModule = fx.Module("reload",
	fx.Provide(
		newReloader,
		readiness(func(r *reload.Reloader) httpapi.Check { return httpapi.Check{Name: "config", Fn: r.Ready} }),
		collector(func(r *reload.Reloader) prometheus.Collector { return r }),
	),
	fx.Invoke(func(lc fx.Lifecycle, r *reload.Reloader) { lc.Append(fx.Hook{OnStart: r.Start, OnStop: r.Stop}) }),
)

// newReloader says what each credentials file means: the api-keys file
// replaces the client store, the JWKS reloads the verifier.
func newReloader(cfg Config, clients *apikey.Store, v *jwtauth.Verifier, logger *zap.Logger) *reload.Reloader {
	logger = logger.Named("reload")
	return reload.New([]reload.File{
		{Label: fileAPIKeys, Path: cfg.APIKeysFile, Load: func(_ context.Context, data []byte) error {
			next, err := apikey.Parse(data)
			if err != nil {
				return fmt.Errorf("api keys file %s: %w", cfg.APIKeysFile, err)
			}
			clients.Replace(next)
			logger.Info("api keys reloaded", zap.Int("clients", next.Len()))
			return nil
		}},
		{Label: fileJWKS, Path: cfg.Auth.JWKSFile, Load: func(ctx context.Context, data []byte) error {
			if data != nil {
				// The verifier uses any JWK Set it is given; refuse one
				// without a usable key here, so the last good keys stay.
				set, err := jwtauth.ParseJWKS(data)
				if err != nil {
					return fmt.Errorf("JWKS file %s: %w", cfg.Auth.JWKSFile, err)
				}
				if set.Len() == 0 {
					return fmt.Errorf("JWKS file %s holds no usable verification key", cfg.Auth.JWKSFile)
				}
			}
			if err := v.Reload(ctx); err != nil {
				return err
			}
			logger.Info("JWKS reloaded")
			return nil
		}},
	}, metricsNamespace, logger)
}
