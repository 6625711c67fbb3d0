package metrics_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/metrics"
)

// TestObserveRequest: a cached answer of 20 µs lands in a bucket of its
// own (once all fell in the first, 0.5 ms); a request held by Prefer: wait
// goes to its own histogram, not the latency one; every transition outcome
// and the build info are exported from the start.
func TestObserveRequest(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	const route = "/patients/composition/job/{asyncJobId}"
	m.ObserveRequest(route, "GET", 200, 20*time.Microsecond, false)
	m.ObserveRequest(route, "GET", 200, 12*time.Second, true)

	tests := []struct {
		name, want string
	}{
		{"FineBucket", `jobstatus_http_request_duration_seconds_bucket{route="` + route + `",status="200",le="1e-05"} 0`},
		{"NextBucketHasIt", `jobstatus_http_request_duration_seconds_bucket{route="` + route + `",status="200",le="2.5e-05"} 1`},
		{"HeldApart", `jobstatus_http_request_duration_seconds_count{route="` + route + `",status="200"} 1`},
		{"HeldHistogram", `jobstatus_http_held_request_duration_seconds_count{route="` + route + `",status="200"} 1`},
		{"BothCounted", `jobstatus_http_requests_total{method="GET",route="` + route + `",status="200"} 2`},
		{"Outcomes", `jobstatus_job_transitions_total{outcome="timed_out"} 0`},
		{"BuildInfo", `jobstatus_build_info{commit=`},
	}
	problems, err := testutil.GatherAndLint(m.Registry())
	require.NoError(t, err)
	require.Empty(t, problems)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text := rec.Body.String()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Contains(t, text, tt.want)
		})
	}
}

// TestHeldRequestsAddNoLatencySeries: a held answer of a route and status
// no unheld answer had leaves the latency histogram without a series (an
// empty one would still be exported); repeated requests reuse the series.
func TestHeldRequestsAddNoLatencySeries(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	const route = "/patients/composition/job/{asyncJobId}"
	for range 3 {
		m.ObserveRequest(route, "GET", 304, 2*time.Second, true)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text := rec.Body.String()
	require.NotContains(t, text, `jobstatus_http_request_duration_seconds_count{route="`+route+`",status="304"}`)
	require.Contains(t, text, `jobstatus_http_held_request_duration_seconds_count{route="`+route+`",status="304"} 3`)
	require.Contains(t, text, `jobstatus_http_requests_total{method="GET",route="`+route+`",status="304"} 3`)
}
