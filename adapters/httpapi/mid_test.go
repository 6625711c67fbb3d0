package httpapi_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// observed is what a recordingObserver was told about one request.
type observed struct {
	route, method string
	status        int
	held          bool
}

type recordingObserver struct {
	httpapi.NopObserver
	mu   sync.Mutex
	seen []observed
}

func (o *recordingObserver) ObserveRequest(route, method string, status int, _ time.Duration, held bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, observed{route, method, status, held})
}

func (o *recordingObserver) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.seen)
}

func (o *recordingObserver) last() observed {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.seen[len(o.seen)-1]
}

// TestMiddleware checks what the edge middleware report for each kind of
// answer: the route label is the router's matched template (never the
// path, which would give one series per job), "unmatched" when no route
// took the request; the access log has one line with the same status.
func TestMiddleware(t *testing.T) {
	b := setup(t)
	obs := &recordingObserver{}
	core, logs := observer.New(zap.InfoLevel)
	base := testkit.StartServer(t, httpapi.NewHandler(b.app.Public, zap.New(core), httpapi.DefaultHandlerConfig(), obs), zap.NewNop())
	good := b.auth(testkit.ClientA, testkit.KeyA)
	big := b.auth(testkit.ClientA, testkit.KeyA)
	big.Set("X-Pad", strings.Repeat("a", httpapi.HeaderLimit))
	wait := b.auth(testkit.ClientA, testkit.KeyA)
	wait.Set("Prefer", "wait=1")

	tests := []struct {
		name, method, path string
		header             map[string][]string
		want               observed
		clientID           string
	}{
		{"JobRouteIsTemplate", "GET", jobPath(b.pending.ID), good, observed{httpapi.JobPath, "GET", 200, false}, testkit.ClientA},
		{"HeadOnJobRoute", "HEAD", jobPath(b.pending.ID), good, observed{httpapi.JobPath, "HEAD", 200, false}, testkit.ClientA},
		{"HeadOnOpenAPIIs200", "HEAD", httpapi.OpenAPIPath, nil, observed{httpapi.OpenAPIPath, "HEAD", 200, false}, ""},
		{"HeldRequestIsApart", "GET", jobPath(b.pending.ID), wait, observed{httpapi.JobPath, "GET", 200, true}, testkit.ClientA},
		{"RefusalKeepsTheRoute", "GET", jobPath(b.pending.ID), nil, observed{httpapi.JobPath, "GET", 401, false}, ""},
		{"OpenAPIRoute", "GET", httpapi.OpenAPIPath, nil, observed{httpapi.OpenAPIPath, "GET", 200, false}, ""},
		{"UnknownPathIsUnmatched", "GET", "/patients/composition/tasks", good, observed{"unmatched", "GET", 404, false}, ""},
		{"WrongMethodKeepsTheRoute", "DELETE", jobPath(b.pending.ID), good, observed{httpapi.JobPath, "DELETE", 405, false}, ""},
		{"WrongMethodOnOpenAPI", "POST", httpapi.OpenAPIPath, nil, observed{httpapi.OpenAPIPath, "POST", 405, false}, ""},
		{"UnknownMethodIsOther", "FROBNICATE", jobPath(b.pending.ID), good, observed{httpapi.JobPath, "other", 405, false}, ""},
		{"HugeHeadersKeepTheRoute", "GET", jobPath(b.pending.ID), big, observed{httpapi.JobPath, "GET", 431, false}, ""},
		{"HugeHeadersOnUnknownPath", "GET", "/nowhere", big, observed{"unmatched", "GET", 431, false}, ""},
	}
	for _, tt := range tests { // sequential: each reads the last observation
		t.Run(tt.name, func(t *testing.T) {
			before := obs.count()
			r := testkit.Do(t, nil, tt.method, base+tt.path, tt.header, nil)
			require.Equal(t, tt.want.status, r.Status)
			// The middleware record after the answer is written: wait for them.
			testkit.Eventually(t, 5*time.Second, func() bool {
				return obs.count() > before && logs.FilterMessage("request").Len() > 0
			}, "no observation or access-log line")
			require.Equal(t, tt.want, obs.last())
			lines := logs.FilterMessage("request").All()
			_ = logs.TakeAll()
			require.Len(t, lines, 1, "one access-log line per request")
			fields := lines[0].ContextMap()
			require.Equal(t, int64(tt.want.status), fields["status"])
			require.Equal(t, tt.clientID, fields["client_id"])
			require.Equal(t, r.Header.Get("X-Request-ID"), fields["request_id"])
		})
	}
}
