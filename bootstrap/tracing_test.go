package bootstrap_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/bootstrap"
)

// TestTracingFollowsOTELVariables: unset or "none" is the API's no-op
// provider (tracing off, free); "console" is the SDK with a stdout
// exporter; an unknown exporter refuses to start, naming the variable.
// Not parallel: it sets the process's environment, as operators do.
func TestTracingFollowsOTELVariables(t *testing.T) {
	tests := []struct {
		exporter string
		want     any
		err      string
	}{
		{"", noop.TracerProvider{}, ""},
		{"none", noop.TracerProvider{}, ""},
		{"console", &sdktrace.TracerProvider{}, ""},
		{"carrier-pigeon", nil, "OTEL_TRACES_EXPORTER=carrier-pigeon"},
	}
	for _, tt := range tests {
		t.Run("Exporter="+tt.exporter, func(t *testing.T) {
			t.Setenv("OTEL_TRACES_EXPORTER", tt.exporter)
			var tp trace.TracerProvider
			a := fx.New(bootstrap.TracingModule, fx.Supply(zap.NewNop()), fx.Populate(&tp), fx.NopLogger)
			if tt.err != "" {
				require.ErrorContains(t, a.Err(), tt.err)
				return
			}
			require.NoError(t, a.Err())
			require.IsType(t, tt.want, tp)
			require.NoError(t, a.Start(t.Context()))
			require.NoError(t, a.Stop(t.Context()))
		})
	}
}
