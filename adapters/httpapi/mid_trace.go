package httpapi

import (
	"context"
	nethttp "net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// tracerName names this adapter's tracer (the instrumentation scope).
const tracerName = "github.com/jobstatus/jobstatus/adapters/httpapi"

// traceContext reads and writes W3C traceparent/tracestate headers.
var traceContext = propagation.TraceContext{}

// serverSpan starts a server span per request, continuing the caller's
// trace when it sent a valid W3C traceparent. The span is named after the
// route template once the router matched (routeLabel), and records the
// status. With no tracer provider it is not installed at all.
func serverSpan(tp trace.TracerProvider) Middleware {
	return func(next nethttp.Handler) nethttp.Handler {
		if tp == nil {
			return next
		}
		if _, off := tp.(noop.TracerProvider); off {
			return next
		}
		tracer := tp.Tracer(tracerName)
		return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
			ctx := traceContext.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			ctx, span := tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("http.request.method", MethodLabel(r.Method)),
					attribute.String("url.path", r.URL.EscapedPath())))
			defer span.End()
			rec := recorder(w)
			next.ServeHTTP(rec, r.WithContext(ctx))
			route := unmatched
			if info := infoFrom(r.Context()); info != nil {
				route = info.route
			}
			status := rec.code()
			span.SetName(MethodLabel(r.Method) + " " + route)
			span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", status))
			if status >= 500 {
				span.SetStatus(codes.Error, nethttp.StatusText(status))
			}
		})
	}
}

// useCaseSpan starts the span of one use case inside the request's span;
// the use cases themselves know nothing of tracing.
func useCaseSpan(ctx context.Context, name string) (context.Context, trace.Span) {
	span := trace.SpanFromContext(ctx)
	if !span.SpanContext().IsValid() {
		return ctx, span
	}
	return span.TracerProvider().Tracer(tracerName).Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal))
}

// endSpan records err on span, if any, and ends it.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, "use case failed")
	}
	span.End()
}
