package httpapi_test

import (
	"context"
	"encoding/json"
	nethttp "net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestEveryAnswerIsTheServicesOwn sends, on raw sockets, every request
// target form net/http accepts (origin-, absolute-, authority- and
// asterisk-form), odd paths (//x, /../, /a/./b, encoded slashes, trailing
// slashes) and odd methods to the public, internal and admin listeners.
// Each answer is the service's: JSON, a request id, one access-log line
// with that id and one metric observation; a refusal is the envelope.
// Nothing is answered by net/http (OPTIONS *) or gorilla/mux (clean-path
// redirects) on the service's behalf (issue 10 item 12).
func TestEveryAnswerIsTheServicesOwn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.pending.ID.String()
	type listener struct {
		name  string
		start func(logger *zap.Logger, obs httpapi.Observer) string // returns host:port
		route string                                                // a GET route
		open  int                                                   // what GET route answers without credentials
	}
	start := func(h nethttp.Handler) string {
		return strings.TrimPrefix(testkit.StartServer(t, h, zap.NewNop()), "http://")
	}
	listeners := []listener{
		{"Public", func(l *zap.Logger, o httpapi.Observer) string {
			return start(httpapi.NewHandler(b.app.Public, l, httpapi.DefaultHandlerConfig(), o))
		}, jobPath(b.pending.ID), 401},
		{"Internal", func(l *zap.Logger, o httpapi.Observer) string {
			h, err := httpapi.NewInternalHandler(b.app.Operator, b.kit.Verifier(t), l,
				httpapi.InternalConfig{Writers: []string{workerA}, MaxBodyBytes: 1024}, o)
			require.NoError(t, err)
			return start(h)
		}, "/internal/jobs/" + id, 401},
		{"Admin", func(l *zap.Logger, o httpapi.Observer) string {
			checks := []httpapi.Check{{Name: "store", Fn: func(context.Context) (string, error) { return "", nil }}}
			return start(httpapi.NewAdminHandler(checks, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, _ *nethttp.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{}`))
			}), l, o))
		}, httpapi.HealthzPath, 200},
	}
	for _, l := range listeners {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			obs := &recordingObserver{}
			core, logs := observer.New(zap.InfoLevel)
			addr := l.start(zap.New(core), obs)
			encodedSlashes := "%2F" + strings.ReplaceAll(strings.TrimPrefix(l.route, "/"), "/", "%2F")
			tests := []struct {
				name, method, line string
				status             int
			}{
				{"AsteriskForm", "OPTIONS", "OPTIONS * HTTP/1.1", 404},
				{"HTTP2PrefaceOnHTTP1", "PRI", "PRI * HTTP/2.0", 404},
				{"AuthorityForm", "CONNECT", "CONNECT 127.0.0.1:443 HTTP/1.1", 404},
				{"AuthorityFormHostName", "CONNECT", "CONNECT evil.example:80 HTTP/1.1", 404},
				{"AbsoluteForm", "GET", "GET http://evil.example" + l.route + " HTTP/1.1", l.open},
				{"AbsoluteFormUnknownPath", "GET", "GET http://evil.example/nope HTTP/1.1", 404},
				{"AbsoluteFormDoubleSlash", "GET", "GET http://evil.example//x HTTP/1.1", 404},
				{"OriginForm", "GET", "GET " + l.route + " HTTP/1.1", l.open},
				{"HTTP10WithoutHost", "GET", "GET " + l.route + " HTTP/1.0", l.open},
				{"DoubleSlash", "GET", "GET //x HTTP/1.1", 404},
				{"DoubleSlashRoute", "GET", "GET /" + l.route + " HTTP/1.1", 404},
				{"DotDot", "GET", "GET /../ HTTP/1.1", 404},
				{"DotDotBeforeRoute", "GET", "GET /x/.." + l.route + " HTTP/1.1", 404},
				{"Dot", "GET", "GET /a/./b HTTP/1.1", 404},
				{"DotInRoute", "GET", "GET /." + l.route + " HTTP/1.1", 404},
				{"EncodedDotDot", "GET", "GET /%2e%2e" + l.route + " HTTP/1.1", 404},
				{"EncodedSlashes", "GET", "GET /" + encodedSlashes + " HTTP/1.1", 404},
				{"TrailingSlash", "GET", "GET " + l.route + "/ HTTP/1.1", 404},
				{"Root", "GET", "GET / HTTP/1.1", 404},
				{"OptionsOnRoute", "OPTIONS", "OPTIONS " + l.route + " HTTP/1.1", 405},
				{"TraceOnRoute", "TRACE", "TRACE " + l.route + " HTTP/1.1", 405},
				{"DeleteOnRoute", "DELETE", "DELETE " + l.route + " HTTP/1.1", 405},
				{"PropfindOnRoute", "PROPFIND", "PROPFIND " + l.route + " HTTP/1.1", 405},
				{"InventedMethodOnRoute", "FROB", "FROB " + l.route + " HTTP/1.1", 405},
				{"InventedMethodOnRoot", "FROB", "FROB / HTTP/1.1", 404},
				{"ConnectOnRoute", "CONNECT", "CONNECT " + l.route + " HTTP/1.1", 405},
			}
			for _, tt := range tests { // sequential: each reads the last observation
				t.Run(tt.name, func(t *testing.T) {
					before := obs.count()
					_ = logs.TakeAll()
					req := tt.line + "\r\n"
					if !strings.HasSuffix(tt.line, "HTTP/1.0") {
						req += "Host: 127.0.0.1\r\n"
					}
					res, raw := testkit.Raw(t, addr, req+"\r\n")
					require.Equal(t, tt.status, res.StatusCode, "%s", raw)
					require.Equal(t, "application/json", res.Header.Get("Content-Type"))
					rid := res.Header.Get("X-Request-ID")
					require.NotEmpty(t, rid, "every answer carries a request id")
					require.Empty(t, res.Header.Get("Location"), "no redirect on the service's behalf")
					var body map[string]any
					require.NoError(t, json.Unmarshal(raw, &body), "%s", raw)
					if tt.status >= 400 {
						e, ok := body["error"].(map[string]any)
						require.True(t, ok, "the envelope: %s", raw)
						require.NotEmpty(t, e["type"])
						require.Equal(t, rid, body["meta"].(map[string]any)["request_id"])
					}
					testkit.Eventually(t, 5*time.Second, func() bool {
						return obs.count() > before && logs.FilterMessage("request").Len() > 0
					}, "no observation or access-log line")
					require.Equal(t, obs.count(), before+1, "one metric observation")
					// A method outside the standard ones may be labelled "other".
					require.Contains(t, []string{tt.method, "other"}, obs.last().method)
					require.Equal(t, tt.status, obs.last().status)
					lines := logs.FilterMessage("request").All()
					require.Len(t, lines, 1, "one access-log line")
					require.Equal(t, rid, lines[0].ContextMap()["request_id"])
					require.Equal(t, int64(tt.status), lines[0].ContextMap()["status"])
				})
			}
		})
	}
}
