package bootstrap_test

import (
	"database/sql"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	_ "github.com/lib/pq" // the driver the service's pool uses
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// notExportedHere are metric names the rules and the dashboard may use
// although an in-process server on the memory store does not export them,
// each with who provides it.
var notExportedHere = map[string]string{
	"up": "Prometheus, per scrape target",
	"kube_deployment_status_replicas_unavailable": "kube-state-metrics",
}

// TestDeployQueriesUseExportedMetrics: every metric name a query of the
// alerting rules (deploy/prometheus/rules.yml) or of the Grafana dashboard
// (deploy/grafana/*.json) names is one the service exports on /metrics,
// a recording rule of rules.yml, or in notExportedHere with its provider.
// The PostgreSQL pool's go_sql_* names come from the collector the
// service registers for it, on an unconnected pool.
func TestDeployQueriesUseExportedMetrics(t *testing.T) {
	t.Parallel()
	s := startServed(t)
	s.exercise(t)

	exported := map[string]bool{}
	for _, line := range strings.Split(fetch(t, s.admin+"/metrics"), "\n") {
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			fields := strings.Fields(f)
			exported[fields[0]] = true
			switch fields[1] {
			case "histogram":
				exported[fields[0]+"_bucket"] = true
				fallthrough
			case "summary":
				exported[fields[0]+"_count"], exported[fields[0]+"_sum"] = true, true
			}
		}
	}
	db, err := sql.Open("postgres", "host=127.0.0.1 port=1 sslmode=disable")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	pool := prometheus.NewRegistry()
	pool.MustRegister(collectors.NewDBStatsCollector(db, "jobstatus"))
	families, err := pool.Gather()
	require.NoError(t, err)
	for _, f := range families {
		exported[f.GetName()] = true
	}

	rules, recorded := ruleQueries(t)
	queries := map[string][]string{"deploy/prometheus/rules.yml": rules}
	dashboards, err := os.ReadDir("../deploy/grafana")
	require.NoError(t, err)
	for _, d := range dashboards {
		if strings.HasSuffix(d.Name(), ".json") {
			queries["deploy/grafana/"+d.Name()] = dashboardQueries(t, "../deploy/grafana/"+d.Name())
		}
	}
	used := 0
	for file, exprs := range queries {
		require.NotEmpty(t, exprs, "%s has queries", file)
		for _, expr := range exprs {
			for _, name := range metricNames(expr) {
				used++
				_, elsewhere := notExportedHere[name]
				require.True(t, exported[name] || recorded[name] || elsewhere,
					"%s: %q names %s, which the service does not export", file, expr, name)
			}
		}
	}
	require.Greater(t, used, 40, "the queries name metrics")
}

// ruleQueries returns the expressions of rules.yml and the names its
// recording rules define.
func ruleQueries(t *testing.T) ([]string, map[string]bool) {
	t.Helper()
	raw, err := os.ReadFile("../deploy/prometheus/rules.yml")
	require.NoError(t, err)
	var file struct {
		Groups []struct {
			Rules []struct {
				Record string `yaml:"record"`
				Expr   string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &file))
	var exprs []string
	recorded := map[string]bool{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	return exprs, recorded
}

// dashboardQueries returns every panel target's expression and every
// templating query of a Grafana dashboard, label_values(m, label) as m.
func dashboardQueries(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	var exprs []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	labelValues := regexp.MustCompile(`^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*),`)
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(string); ok && v.Type == "query" {
			m := labelValues.FindStringSubmatch(q)
			require.NotNil(t, m, "%s: templating query %q: only label_values(metric, label) is checked", path, q)
			exprs = append(exprs, m[1])
		}
	}
	return exprs
}

var (
	promQLStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promQLMatchers  = regexp.MustCompile(`\{[^{}]*\}`)
	promQLRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	promQLGroupings = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	// A word, or a number or duration (1e3, 2.5e-3, 5m) so that none of
	// its letters reads as a word.
	promQLWord     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?|[0-9][0-9a-zA-Z.]*(?:[eE][-+][0-9]+)?`)
	promQLKeywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"}
)

// metricNames returns the metric names a PromQL expression selects: what
// is left of it once strings, label matchers, ranges, groupings, function
// calls and keywords are taken out. (promtool check rules, run by the
// deploy module's tests, checks that the rules parse.)
func metricNames(expr string) []string {
	s := promQLStrings.ReplaceAllString(expr, `""`)
	s = promQLMatchers.ReplaceAllString(s, " ")
	s = promQLRanges.ReplaceAllString(s, " ")
	s = promQLGroupings.ReplaceAllString(s, " ")
	var names []string
	for _, m := range promQLWord.FindAllStringSubmatch(s, -1) {
		if m[1] != "" || m[0][0] <= '9' || slices.Contains(promQLKeywords, strings.ToLower(m[0])) {
			continue // a function call, a number or a keyword
		}
		names = append(names, m[0])
	}
	return names
}

// TestMetricNames: the extractor the deploy check relies on finds the
// selected metrics of an expression and nothing else.
func TestMetricNames(t *testing.T) {
	t.Parallel()
	got := metricNames(`histogram_quantile(0.99, sum by (le, route) (rate(jobstatus_http_request_duration_seconds_bucket{route="/x/{id}",le="0.05"}[5m])))
		/ on(instance) group_left jobstatus:poll_slow:ratio_rate5m > bool 1e3 and up{job="a b"} offset 5m or vector(1) > 2.5e-3`)
	require.Equal(t, []string{"jobstatus_http_request_duration_seconds_bucket", "jobstatus:poll_slow:ratio_rate5m", "up"}, got)
}
