package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestJobCommandsRefuseHostileInput: links that are not absolute paths and
// text PostgreSQL cannot store exit 2 with a sentence (no driver text), and
// leave the job as it was (issue 10, items 9 and 10). NUL cannot travel in
// an argument; the use-case tests cover it.
func TestJobCommandsRefuseHostileInput(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	env := []string{"JOBSTATUS_DATABASE_URL=" + pg.Schema(t)}
	job := mustJob(t, jobstatus(t, env, "jobs", "create", "--client", "mis-alpha", "--eta", "90s"))

	const (
		href = "jobstatus: invalid links: every href must be an absolute path\n"
		text = "must be valid UTF-8 without NUL bytes\n"
	)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"IssueNetworkPath", []string{"jobs", "complete", job.ID, "--link", "composition=//evil.example/patients/p/encounter/e/composition/c"}, href},
		{"Backslashes", []string{"jobs", "complete", job.ID, "--link", `composition=\\evil`}, href},
		{"SlashBackslash", []string{"jobs", "complete", job.ID, "--link", `composition=/\evil`}, href},
		{"URL", []string{"jobs", "complete", job.ID, "--link", "composition=http://x"}, href},
		{"JavaScript", []string{"jobs", "complete", job.ID, "--link", "composition=javascript:alert(1)"}, href},
		{"Space", []string{"jobs", "complete", job.ID, "--link", "composition=/a b"}, href},
		{"BadPercent", []string{"jobs", "complete", job.ID, "--link", "composition=/a%zz"}, href},
		{"Newline", []string{"jobs", "complete", job.ID, "--link", "composition=/a\n"}, href},
		{"RightToLeftOverride", []string{"jobs", "complete", job.ID, "--link", "composition=/\u202e"}, href},
		{"DotSegment", []string{"jobs", "complete", job.ID, "--link", "composition=/a/../b"}, href},
		{"Relative", []string{"jobs", "complete", job.ID, "--link", "composition=./a"}, href},
		{"SecondLinkBad", []string{"jobs", "complete", job.ID, "--link", "composition=/ok", "--link", "encounter=//evil"}, href},
		{"EntityNotToken", []string{"jobs", "complete", job.ID, "--link", "compo sition=/p"}, "jobstatus: invalid links: every link entity must be a token"},
		{"HrefInvalidUTF8", []string{"jobs", "complete", job.ID, "--link", "composition=/p\xff"}, "jobstatus: invalid links: every entity and href " + text},
		{"IssueMessage", []string{"jobs", "fail", job.ID, "--code", "422", "--message", "bad\xff"}, "jobstatus: invalid message: " + text},
		{"MessageTruncated", []string{"jobs", "fail", job.ID, "--code", "422", "--message", "caf\xc3"}, "jobstatus: invalid message: " + text},
		{"MessageSurrogate", []string{"jobs", "fail", job.ID, "--code", "422", "--message", "\xed\xa0\x80"}, "jobstatus: invalid message: " + text},
		{"Client", []string{"jobs", "create", "--client", "mis\xff"}, "jobstatus: invalid client: " + text},
		{"ReportClient", []string{"report", "--from", "2026-11-01", "--to", "2026-11-30", "--client", "mis\xff"}, "jobstatus: invalid client: " + text},
		{"IdempotencyKey", []string{"jobs", "create", "--client", "mis-alpha", "--idempotency-key", "k\xfe"}, "jobstatus: invalid idempotency_key: " + text},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := jobstatus(t, env, c.args...)
			require.Equal(t, 2, r.code, "stdout %s stderr %s", r.stdout, r.stderr)
			require.True(t, strings.HasPrefix(r.stderr, c.want), "stderr %q, want %q", r.stderr, c.want)
			require.NotContains(t, r.stderr, "pq:")
			require.Empty(t, r.stdout)
		})
	}
	t.Cleanup(func() {
		got := mustJob(t, jobstatus(t, env, "jobs", "get", job.ID))
		require.Equal(t, "PENDING", got.Status, "refused input leaves the job unchanged")
		require.Empty(t, got.Links)
	})
}

// TestListenersAnswerEveryTargetForm: the real binary's public and admin
// listeners answer the asterisk-, authority- and absolute-form and
// unclean paths themselves: JSON, a request id that its access log names,
// and a metric series (issue 10 item 12).
func TestListenersAnswerEveryTargetForm(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	kit := testkit.New(t)
	admin := adminAddr(t)
	env := append([]string{"JOBSTATUS_DATABASE_URL=" + pg.Schema(t), "JOBSTATUS_ADMIN_ADDR=" + admin}, authEnv(kit)...)
	svc := serve(t, env)
	public := strings.TrimPrefix(svc.URL, "http://")
	tests := []struct {
		name, line, series string
		status             int
	}{
		{"AsteriskForm", "OPTIONS * HTTP/1.1", `{method="OPTIONS",route="unmatched",status="404"}`, 404},
		{"AuthorityForm", "CONNECT 127.0.0.1:443 HTTP/1.1", `{method="CONNECT",route="unmatched",status="404"}`, 404},
		{"AbsoluteForm", "GET http://evil.example/nope HTTP/1.1", `{method="GET",route="unmatched",status="404"}`, 404},
		{"DoubleSlash", "GET //healthz HTTP/1.1", `{method="GET",route="unmatched",status="404"}`, 404},
		{"DotSegment", "GET /a/./b HTTP/1.1", `{method="GET",route="unmatched",status="404"}`, 404},
		{"Trace", "TRACE {route} HTTP/1.1", `{method="TRACE",route="{route}",status="405"}`, 405}, // a 405 keeps its route's template
	}
	for _, l := range []struct{ name, addr, route string }{{"Public", public, "/openapi.yaml"}, {"Admin", admin, "/healthz"}} {
		for _, tt := range tests {
			tt.line = strings.ReplaceAll(tt.line, "{route}", l.route)
			tt.series = strings.ReplaceAll(tt.series, "{route}", l.route)
			t.Run(l.name+"/"+tt.name, func(t *testing.T) {
				res, raw := testkit.Raw(t, l.addr, tt.line+"\r\nHost: 127.0.0.1\r\n\r\n")
				body := string(raw)
				require.Equal(t, tt.status, res.StatusCode, body)
				require.Equal(t, "application/json", res.Header.Get("Content-Type"))
				require.Contains(t, body, `"error":{"type":`)
				rid := res.Header.Get("X-Request-ID")
				require.NotEmpty(t, rid)
				testkit.Eventually(t, 10*time.Second, func() bool {
					return strings.Contains(svc.Stderr.String(), `"request_id":"`+rid+`"`)
				}, "an access-log line with request id %s", rid)
				_, metrics := adminGet(t, admin, "/metrics")
				require.Contains(t, metrics, "jobstatus_http_requests_total"+tt.series)
			})
		}
	}
}
