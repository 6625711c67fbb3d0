package bootstrap_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/jobstatus/jobstatus/bootstrap"
)

// TestServiceLoggerSamplesAuthFailures: the service's logger carries the
// sampling core (adapters/logsample), so a flood of identical refusals
// writes fewer lines than refusals.
func TestServiceLoggerSamplesAuthFailures(t *testing.T) {
	t.Parallel()
	const flood = 1000
	var out strings.Builder
	l, err := bootstrap.NewLogger(bootstrap.LogConfig{Level: "info", Format: "json"}, &out)
	require.NoError(t, err)
	for range flood {
		l.Info("authentication failed", zap.String("request_id", "r"), zap.String("credential", "api-key"), zap.String("reason", "unknown api-key"))
	}
	require.Less(t, strings.Count(out.String(), "\n"), flood)
}

// TestServiceLoggerWritesWholeLinesFromManyGoroutines: lines logged at
// once from many goroutines come out whole, one a line, none lost — both
// through serve's BufferedWriteSyncer (whose own lock is the only one
// NewLogger relies on) and through a plain writer (which NewLogger locks).
func TestServiceLoggerWritesWholeLinesFromManyGoroutines(t *testing.T) {
	t.Parallel()
	const goroutines, lines = 8, 500
	check := func(t *testing.T, text string) {
		got := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		require.Len(t, got, goroutines*lines)
		for _, line := range got {
			require.True(t, strings.HasPrefix(line, "{") && strings.HasSuffix(line, "}"), "torn line %q", line)
		}
	}
	logAll := func(l *zap.Logger) {
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for i := range lines {
					l.Info("request", zap.Int("goroutine", g), zap.Int("line", i), zap.String("path", strings.Repeat("p", 200)))
				}
			})
		}
		wg.Wait()
	}
	t.Run("buffered", func(t *testing.T) {
		var out syncBuffer
		ws := &zapcore.BufferedWriteSyncer{WS: &out, Size: 4 << 10}
		l, err := bootstrap.NewLogger(bootstrap.LogConfig{Level: "info", Format: "json"}, ws)
		require.NoError(t, err)
		logAll(l)
		require.NoError(t, ws.Stop())
		check(t, out.String())
	})
	t.Run("plain", func(t *testing.T) {
		var out strings.Builder
		l, err := bootstrap.NewLogger(bootstrap.LogConfig{Level: "info", Format: "json"}, &out)
		require.NoError(t, err)
		logAll(l)
		check(t, out.String())
	})
}

// syncBuffer is a zapcore.WriteSyncer over a buffer that, like a file,
// takes no lock of its own: the -race detector sees any unlocked write.
type syncBuffer struct{ strings.Builder }

func (*syncBuffer) Sync() error { return nil }
