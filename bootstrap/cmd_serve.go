package bootstrap

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/spf13/cobra"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// serveOptions are the flags of `jobstatus serve`.
type serveOptions struct {
	Dev     bool // in-memory demo: own key, client and jobs
	Migrate bool // apply migrations before serving
}

// Validate refuses contradictory flags.
func (o serveOptions) Validate() error {
	if o.Dev && o.Migrate {
		return usagef("--migrate applies to a database; --dev serves from memory")
	}
	return nil
}

func (o serveOptions) mode() Mode {
	if o.Dev {
		return ModeDev
	}
	return ModeServe
}

func newServeCmd(stdio IO) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--dev] [--migrate]",
		Short: "Run the HTTP service",
		Long: `Run the public HTTP API, the write API for workers (JOBSTATUS_INTERNAL_ADDR)
and the admin listener until SIGINT or SIGTERM.
SIGHUP reloads the api-keys file and the JWKS (so do changes to the files).

Without --dev the auth settings are required (JOBSTATUS_AUTH_*,
JOBSTATUS_API_KEYS_FILE); every setting is validated first and each
problem is reported in one line.

Example:
  JOBSTATUS_DATABASE_URL=postgres://app@127.0.0.1/jobs jobstatus serve --migrate
  jobstatus serve --dev   # in-memory demo on 127.0.0.1:8080, prints curl lines`,
		Args: args(cobra.NoArgs),
		RunE: runE(&o, nil, func(ctx context.Context) error { return runServe(ctx, stdio, o) }),
	}
	cmd.Flags().BoolVar(&o.Dev, "dev", false, "in-memory demo jobs, an ephemeral signing key, and curl lines printed at start")
	cmd.Flags().BoolVar(&o.Migrate, "migrate", false, "apply database migrations before serving")
	return cmd
}

func runServe(ctx context.Context, stdio IO, o serveOptions) error {
	// SIGHUP reloads credentials (ReloadModule) and never ends the process,
	// which is Go's default for it: caught from the start, --migrate included.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	cfg, err := readConfig(stdio)
	if err != nil {
		return err
	}
	memory := tuneMemory(stdio, memlimit.FromCgroup)
	if o.Dev {
		// A demo binds to loopback unless told otherwise.
		if !envSet(stdio, "JOBSTATUS_HTTP_ADDR") && cfg.HTTP.Addr == DefaultConfig().HTTP.Addr {
			cfg.HTTP.Addr = "127.0.0.1:8080"
		}
		// The write API on a free port, so a second demo can start.
		if !envSet(stdio, "JOBSTATUS_INTERNAL_ADDR") && cfg.Internal.Addr == DefaultConfig().Internal.Addr {
			cfg.Internal.Addr = "127.0.0.1:0"
		}
		if !envSet(stdio, "JOBSTATUS_LOG_FORMAT") {
			cfg.Log.Format = "console"
		}
	}
	if err := validated(cfg, o.mode()); err != nil {
		return err
	}
	// One access-log line per request: buffer them rather than pay a
	// write per request; flushed every second and at exit.
	logs := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(stdio.Stderr), Size: 256 << 10, FlushInterval: time.Second}
	defer func() { _ = logs.Stop() }()
	logger, err := NewLogger(cfg.Log, logs)
	if err != nil {
		return err
	}
	if o.Migrate {
		if err := runMigrations(ctx, cfg, logger); err != nil {
			return err
		}
	}
	opts := ServeOptions(cfg, logger)
	if o.Dev {
		cfg.HTTP.Addr = freeAddrIfTaken(cfg.HTTP.Addr, "public", logger)
		cfg.AdminAddr = freeAddrIfTaken(cfg.AdminAddr, "admin", logger)
		opts = devOptions(cfg, logger, stdio.Stdout)
	}
	// Said once the service starts, so a refused start prints only why.
	opts = fx.Options(opts, fx.Invoke(func(lc fx.Lifecycle) { lc.Append(fx.StartHook(func() { memory.log(logger) })) }))
	return runService(ctx, fx.New(opts), cfg, logger, hup)
}

// runService starts the app, waits for SIGINT/SIGTERM or ctx, and stops it
// within the configured shutdown time; SIGHUP flushes the log and goes on.
func runService(ctx context.Context, a *fx.App, cfg Config, logger *zap.Logger, hup <-chan os.Signal) error {
	if err := a.Err(); err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(ctx, a.StartTimeout())
	defer cancel()
	if err := a.Start(startCtx); err != nil {
		return err
	}
wait:
	for {
		select {
		case sig := <-a.Wait():
			logger.Info("shutting down", zap.String("signal", sig.Signal.String()))
			break wait
		case <-ctx.Done():
			logger.Info("shutting down", zap.String("reason", "context done"))
			break wait
		case <-hup:
			// The reloader (ReloadModule) reloads; here the buffered log
			// is written out, as an operator's signal should.
			_ = logger.Sync()
		}
	}
	stopCtx, cancelStop := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout+5*time.Second)
	defer cancelStop()
	if err := a.Stop(stopCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}
