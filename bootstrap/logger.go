package bootstrap

import (
	"fmt"
	"io"
	"time"

	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/jobstatus/jobstatus/adapters/logsample"
)

func parseLevel(s string) (zapcore.Level, error) {
	l, err := zapcore.ParseLevel(s)
	if err != nil {
		return l, fmt.Errorf("log.level: %w", err)
	}
	return l, nil
}

// NewLogger builds the service logger writing to w (stderr in production).
func NewLogger(cfg LogConfig, w io.Writer) (*zap.Logger, error) {
	level, err := parseLevel(cfg.Level)
	if err != nil {
		return nil, err
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "ts"
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if cfg.Format == "console" {
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	out := zapcore.AddSync(w)
	if _, locked := w.(*zapcore.BufferedWriteSyncer); !locked {
		// A BufferedWriteSyncer (serve's) takes its own lock: a second one
		// around it would be taken for every access-log line.
		out = zapcore.Lock(out)
	}
	core := zapcore.NewCore(enc, out, level)
	core = logsample.NewAuthSampler(core, time.Now)
	return zap.New(core, zap.ErrorOutput(out)), nil
}

// newFxLogger logs fx's own events at debug level, its errors included: a
// failed start is reported once, by the command line, as its root cause in
// one line (describe), not also as kilobytes of dependency-graph plumbing.
func newFxLogger(logger *zap.Logger) fxevent.Logger {
	l := &fxevent.ZapLogger{Logger: logger.Named("fx")}
	l.UseLogLevel(zap.DebugLevel)
	l.UseErrorLevel(zap.DebugLevel)
	return l
}
