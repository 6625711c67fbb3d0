package bootstrap_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

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
