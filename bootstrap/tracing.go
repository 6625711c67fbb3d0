package bootstrap

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// TracingModule provides the trace.TracerProvider of the HTTP adapter and
// the database pool. Tracing is off unless OTEL_TRACES_EXPORTER names an
// exporter (otlp, console); off, the provider is the API's no-op, so the
// middleware and the driver are not even wrapped. On, the standard OTEL_*
// variables configure it (autoexport: OTEL_EXPORTER_OTLP_*; the SDK:
// OTEL_TRACES_SAMPLER*, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES), and
// stopping flushes the spans not yet exported.
var TracingModule = fx.Module("tracing",
	fx.Provide(func(lc fx.Lifecycle, logger *zap.Logger) (trace.TracerProvider, error) {
		return newTracerProvider(lc, os.Getenv("OTEL_TRACES_EXPORTER"), logger)
	}),
)

func newTracerProvider(lc fx.Lifecycle, exporter string, logger *zap.Logger) (trace.TracerProvider, error) {
	if exporter == "" || exporter == "none" {
		return noop.NewTracerProvider(), nil
	}
	ctx := context.Background()
	exp, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTEL_TRACES_EXPORTER=%s: %w", exporter, err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "jobstatus")),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	lc.Append(fx.StopHook(func(ctx context.Context) error {
		if err := tp.Shutdown(ctx); err != nil {
			logger.Warn("tracing: spans not flushed", zap.Error(err))
		}
		return nil
	}))
	logger.Info("tracing on", zap.String("exporter", exporter))
	return tp, nil
}
