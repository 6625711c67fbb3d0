package logsample

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestAuthFailureLinesAreSampled: a flood of identical refusals writes the
// first authLogFirst lines of each second, then one in authLogThereafter
// carrying how many were dropped; other reasons, other lines and a new
// second are not affected.
func TestAuthFailureLinesAreSampled(t *testing.T) {
	t.Parallel()
	setup := func() (*zap.Logger, *observer.ObservedLogs, *time.Time) {
		core, logs := observer.New(zapcore.InfoLevel)
		now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
		return zap.New(NewAuthSampler(core, func() time.Time { return now })), logs, &now
	}
	refuse := func(l *zap.Logger, reason string) {
		l.Info(authFailedMessage, zap.String("request_id", "r"), zap.String("credential", "api-key"), zap.String("reason", reason))
	}
	access := func(l *zap.Logger, status int) {
		l.Info(accessLogMessage, zap.String("request_id", "r"), zap.String("path", "/x"), zap.Int("status", status))
	}
	const flood = authLogFirst + 3*authLogThereafter

	t.Run("FloodOfOneReason", func(t *testing.T) {
		t.Parallel()
		l, logs, _ := setup()
		for range flood {
			refuse(l, "unknown api-key")
		}
		lines := logs.FilterMessage(authFailedMessage).All()
		require.Len(t, lines, authLogFirst+3)
		for _, e := range lines[:authLogFirst] {
			require.NotContains(t, e.ContextMap(), "dropped")
		}
		for _, e := range lines[authLogFirst:] {
			require.Equal(t, uint64(authLogThereafter-1), e.ContextMap()["dropped"])
			require.Equal(t, "unknown api-key", e.ContextMap()["reason"])
		}
	})
	t.Run("ReasonsAreSampledApart", func(t *testing.T) {
		t.Parallel()
		l, logs, _ := setup()
		for range flood {
			refuse(l, "unknown api-key")
		}
		refuse(l, "token expired")
		require.Len(t, logs.FilterField(zap.String("reason", "token expired")).All(), 1)
	})
	t.Run("AccessLogOf401Only", func(t *testing.T) {
		t.Parallel()
		l, logs, _ := setup()
		for range flood {
			access(l, 401)
			access(l, 200)
			access(l, 500)
		}
		require.Len(t, logs.FilterField(zap.Int("status", 401)).All(), authLogFirst+3)
		require.Len(t, logs.FilterField(zap.Int("status", 200)).All(), flood, "successes are sampled by their own setting only")
		require.Len(t, logs.FilterField(zap.Int("status", 500)).All(), flood, "errors are never sampled")
	})
	t.Run("NextSecondStartsAgain", func(t *testing.T) {
		t.Parallel()
		l, logs, now := setup()
		for range authLogFirst + 1 {
			refuse(l, "unknown api-key")
		}
		*now = now.Add(authLogTick)
		refuse(l, "unknown api-key")
		lines := logs.All()
		require.Len(t, lines, authLogFirst+1)
		require.Equal(t, uint64(1), lines[authLogFirst].ContextMap()["dropped"], "the line dropped last second is counted")
	})
	t.Run("OtherLinesAndWithPassThrough", func(t *testing.T) {
		t.Parallel()
		l, logs, _ := setup()
		child := l.With(zap.String("listener", "public"))
		for range flood {
			refuse(child, "unknown api-key")
			child.Warn("something else")
		}
		require.Len(t, logs.FilterMessage("something else").All(), flood)
		require.Len(t, logs.FilterMessage(authFailedMessage).All(), authLogFirst+3, "children share the tallies")
	})
}
