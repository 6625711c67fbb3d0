package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// devInternalAddr is where --dev puts the write API unless told: any free
// loopback port, so two demos can run side by side.
const devInternalAddr = "127.0.0.1:0"

// ServeParams is what `jobstatus serve` was asked for and where it writes.
type ServeParams struct {
	Dev     bool      // in-memory demo: own key, client and jobs
	Migrate bool      // apply migrations before serving
	Stderr  io.Writer // the log
	// DevStarted, with Dev, is called once the demo listens (curl lines).
	DevStarted func(DevDemo) error
	Environ    []string // the JOBSTATUS_* settings, GOGC
}

// mode is what the configuration is validated for.
func (p ServeParams) mode() Mode {
	if p.Dev {
		return ModeDev
	}
	return ModeServe
}

// Serve reads the configuration, validates it with validate (the command
// line's one-line-per-problem form of Config.Validate), and runs the
// service until ctx ends or SIGINT/SIGTERM.
func Serve(ctx context.Context, p ServeParams, validate func(Config, Mode) error) error {
	// SIGHUP reloads credentials (ReloadModule) and never ends the process,
	// which is Go's default for it: caught from the start, --migrate included.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	cfg, err := LoadConfig(p.Environ)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	memory := tuneMemory(p.Environ, memlimit.FromCgroup)
	if p.Dev {
		// A demo binds to loopback unless told otherwise.
		if !envSet(p.Environ, "JOBSTATUS_HTTP_ADDR") && cfg.HTTP.Addr == DefaultConfig().HTTP.Addr {
			cfg.HTTP.Addr = "127.0.0.1:8080"
		}
		// The write API on a free port, so a second demo can start.
		if !envSet(p.Environ, "JOBSTATUS_INTERNAL_ADDR") && cfg.Internal.Addr == DefaultConfig().Internal.Addr {
			cfg.Internal.Addr = devInternalAddr
		}
		if !envSet(p.Environ, "JOBSTATUS_LOG_FORMAT") {
			cfg.Log.Format = "console"
		}
	}
	if err := validate(cfg, p.mode()); err != nil {
		return err
	}
	// One access-log line per request: buffer them rather than pay a
	// write per request; flushed every second and at exit.
	logs := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(p.Stderr), Size: 256 << 10, FlushInterval: time.Second}
	defer func() { _ = logs.Stop() }()
	logger, err := NewLogger(cfg.Log, logs)
	if err != nil {
		return err
	}
	if p.Migrate {
		if err := runMigrations(ctx, cfg, logger); err != nil {
			return err
		}
	}
	opts := ServeOptions(cfg, logger)
	if p.Dev {
		cfg.HTTP.Addr = freeAddrIfTaken(cfg.HTTP.Addr, "public", logger)
		cfg.AdminAddr = freeAddrIfTaken(cfg.AdminAddr, "admin", logger)
		opts = devOptions(cfg, logger, p.DevStarted)
	}
	// Said once the service starts, so a refused start prints only why; the
	// first start hook, so that no hook runs after the one that tells --dev
	// the service listens (a caller may stop it at once).
	opts = fx.Options(fx.Invoke(func(lc fx.Lifecycle) { lc.Append(fx.StartHook(func() { memory.log(logger) })) }), opts)
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
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			// Asked to stop while starting: fx has stopped what had
			// started, and that is a clean stop.
			logger.Info("stopped while starting")
			return nil
		}
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

// envSet reports whether environ sets name, even to nothing.
func envSet(environ []string, name string) bool {
	for _, kv := range environ {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}

// DialableAddr turns a listen address such as :9464 or 0.0.0.0:9464 into
// one a client on the same host can reach.
func DialableAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
