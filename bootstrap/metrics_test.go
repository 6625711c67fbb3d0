package bootstrap_test

import (
	"bufio"
	"context"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/metrics"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/bootstrap"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// served is the serve graph on loopback, in memory, with a known kit.
type served struct {
	public, admin string
	kit           *testkit.Kit
	operator      *app.Operator
	metrics       *metrics.Metrics
}

func startServed(t *testing.T) served {
	t.Helper()
	kit := testkit.New(t)
	cfg := bootstrap.DefaultConfig()
	cfg.Auth.JWKSFile, cfg.Auth.Issuer, cfg.Auth.Audience, cfg.APIKeysFile = kit.JWKSFile, testkit.Issuer, testkit.Audience, kit.KeysFile
	cfg.Internal.Addr = "" // this test is about the public and admin listeners
	s := served{kit: kit}
	cfg = startServeOnFreeAddrs(t, func(c *bootstrap.Config) { c.HTTP.Addr, c.AdminAddr = freeAddr(t), freeAddr(t) },
		cfg, &s.operator, &s.metrics)
	s.public, s.admin = "http://"+cfg.HTTP.Addr, "http://"+cfg.AdminAddr
	return s
}

// exercise sends a poll, a held poll and a refused one, so that the
// request, latency and auth-failure families have series.
func (s served) exercise(t *testing.T) {
	t.Helper()
	job, err := s.operator.CreateJob.Handle(context.Background(), app.CreateJob{ClientID: testkit.ClientA, ETA: time.Minute})
	require.NoError(t, err)
	good := testkit.Auth(s.kit.Token(testkit.ClientA), testkit.KeyA)
	require.Equal(t, 200, testkit.Do(t, nil, "GET", s.public+testkit.JobPath(job.ID), good, nil).Status)
	held := good.Clone()
	held.Set("Prefer", "wait=1")
	require.Equal(t, 200, testkit.Do(t, nil, "GET", s.public+testkit.JobPath(job.ID), held, nil).Status)
	require.Equal(t, 401, testkit.Do(t, nil, "GET", s.public+testkit.JobPath(job.ID), testkit.Auth("x.y.z", testkit.KeyA), nil).Status)
}

// documentedMetrics reads the metric tables of README.md and docs/*.md
// (the one of docs/operations.md): each backticked name in the first
// column of a row that starts with a metric name, without its labels. A
// name ending in * is a prefix.
func documentedMetrics(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../docs/*.md")
	require.NoError(t, err)
	name := regexp.MustCompile("`([a-z_]+\\*?)(\\{[^`]*\\})?`")
	var out []string
	for _, file := range append(files, "../README.md") {
		f, err := os.Open(file)
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "| `jobstatus_") && !strings.HasPrefix(line, "| `go_") && !strings.HasPrefix(line, "| `process_") {
				continue
			}
			first := strings.Split(line, "|")[1]
			for _, m := range name.FindAllStringSubmatch(first, -1) {
				out = append(out, m[1])
			}
		}
		require.NoError(t, sc.Err())
		require.NoError(t, f.Close())
	}
	require.GreaterOrEqual(t, len(out), 10, "the metric table of docs/operations.md")
	return out
}

// TestMetricsMatchTheREADME: every metric the README and docs/ document is on
// /metrics, every family on /metrics is documented, and promtool (or
// client_golang's linter where promtool is not installed) finds nothing.
// go_sql_* exist only with PostgreSQL; the end-to-end tests scrape them.
func TestMetricsMatchTheREADME(t *testing.T) {
	t.Parallel()
	s := startServed(t)
	s.exercise(t)

	exported := fetch(t, s.admin+"/metrics")
	families := map[string]bool{}
	for _, line := range strings.Split(exported, "\n") {
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			families[strings.Fields(f)[0]] = true
		}
	}
	documented := documentedMetrics(t)
	covers := func(doc, family string) bool {
		if p, ok := strings.CutSuffix(doc, "*"); ok {
			return strings.HasPrefix(family, p)
		}
		return doc == family
	}
	for _, doc := range documented {
		if doc == "go_sql_*" {
			continue
		}
		found := false
		for f := range families {
			found = found || covers(doc, f)
		}
		require.True(t, found, "%s is documented but not exported", doc)
	}
	for f := range families {
		found := false
		for _, doc := range documented {
			found = found || (covers(doc, f) && (doc != "go_*" || !strings.HasPrefix(f, "go_sql_")))
		}
		require.True(t, found, "%s is exported but not in the metric table of docs/operations.md", f)
	}
	for _, series := range []string{`jobstatus_cache_entries{cache="tokens"}`, `jobstatus_build_info{commit=`,
		`jobstatus_http_held_request_duration_seconds_count{route="/patients/composition/job/{asyncJobId}",status="200"} 1`,
		`jobstatus_http_request_duration_seconds_bucket{route="/patients/composition/job/{asyncJobId}",status="200",le="1e-05"}`} {
		require.Contains(t, exported, series)
	}

	problems, err := testutil.GatherAndLint(s.metrics.Registry())
	require.NoError(t, err)
	require.Empty(t, problems)
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(exported)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "promtool check metrics: %s", out)
		require.Empty(t, strings.TrimSpace(string(out)), "promtool check metrics")
	} else {
		t.Log("promtool not installed: client_golang's linter only")
	}
}

// TestMetricLabelsAreClosed: 3 000 requests with random method names (and
// random paths) add no series beyond the closed sets: methods outside the
// standard ones are "other", paths no route has are "unmatched".
func TestMetricLabelsAreClosed(t *testing.T) {
	t.Parallel()
	s := startServed(t)
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for i := range 3000 {
		m := make([]byte, 3+rand.IntN(10))
		for j := range m {
			m[j] = letters[rand.IntN(len(letters))]
		}
		path := testkit.JobPath("00000000-0000-4000-8000-000000000000")
		if i%2 == 1 {
			path = "/x" + string(m)
		}
		req, err := http.NewRequest(string(m), s.public+path, nil)
		require.NoError(t, err)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = res.Body.Close()
	}
	exported := fetch(t, s.admin+"/metrics")
	var series []string
	for _, line := range strings.Split(exported, "\n") {
		if strings.HasPrefix(line, "jobstatus_http_requests_total{") {
			series = append(series, line)
		}
	}
	require.LessOrEqual(t, len(series), 6, "series: %v", series)
	for _, line := range series {
		require.Regexp(t, `method="(GET|HEAD|POST|PUT|PATCH|DELETE|CONNECT|OPTIONS|TRACE|other)"`, line)
		require.Regexp(t, `route="(/patients/composition/job/\{asyncJobId\}|/openapi.yaml|unmatched)"`, line)
	}
}
