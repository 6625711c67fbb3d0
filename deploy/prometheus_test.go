// Package deploy checks what deploy/ ships — Prometheus rules, the Grafana
// dashboard's companion docs, the Kubernetes manifests — without a cluster.
// It is a module of its own so that the service's go.mod does not pull the
// Kubernetes modules; `make test` runs it after the service's tests.
package deploy

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// promtool returns the path of promtool, installing it with the test setup
// (scripts/test-env.sh --promtool: Debian's prometheus package) when it is
// missing. JOBSTATUS_SKIP_PROMTOOL=1 skips instead; a failed install fails.
func promtool(t *testing.T) string {
	t.Helper()
	if path, err := exec.LookPath("promtool"); err == nil {
		return path
	}
	if os.Getenv("JOBSTATUS_SKIP_PROMTOOL") != "" {
		t.Skip("promtool not installed and JOBSTATUS_SKIP_PROMTOOL set")
	}
	out, err := exec.Command("../scripts/test-env.sh", "--promtool").CombinedOutput()
	require.NoError(t, err, "installing promtool: %s", out)
	path, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool still missing after scripts/test-env.sh --promtool: %s", out)
	return path
}

// TestPrometheusRulesPassPromtool: the rules load (`promtool check rules`)
// and every unit test of rules_test.yml passes (`promtool test rules`).
func TestPrometheusRulesPassPromtool(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	for _, args := range [][]string{{"check", "rules", "prometheus/rules.yml"}, {"test", "rules", "prometheus/rules_test.yml"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		require.NoError(t, err, "promtool %s: %s", strings.Join(args, " "), out)
		require.Contains(t, string(out), "SUCCESS", "promtool %s", strings.Join(args, " "))
	}
}

type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type ruleTests struct {
	Tests []struct {
		Name           string `yaml:"name"`
		AlertRuleTests []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(raw, into), path)
}

// TestEveryAlertIsTestedAndHasARunbook: each alert has a promtool case
// where it fires and one where it stays quiet, a severity of critical
// (pages) or warning (a ticket), and a runbook_url whose anchor is a
// section of docs/operations.md.
func TestEveryAlertIsTestedAndHasARunbook(t *testing.T) {
	t.Parallel()
	var rules ruleFile
	readYAML(t, "prometheus/rules.yml", &rules)
	var tests ruleTests
	readYAML(t, "prometheus/rules_test.yml", &tests)
	doc, err := os.ReadFile("../docs/operations.md")
	require.NoError(t, err)
	sections := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^### (\S+)$`).FindAllStringSubmatch(string(doc), -1) {
		sections[strings.ToLower(m[1])] = true
	}

	fires, quiet := map[string]int{}, map[string]int{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTests {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname]++
			} else {
				quiet[a.Alertname]++
			}
		}
	}
	alerts := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			require.Positive(t, fires[r.Alert], "%s: no promtool case where it fires", r.Alert)
			require.Positive(t, quiet[r.Alert], "%s: no promtool case where it stays quiet", r.Alert)
			require.Contains(t, []string{"critical", "warning"}, r.Labels["severity"], r.Alert)
			require.NotEmpty(t, r.Annotations["summary"], r.Alert)
			_, anchor, ok := strings.Cut(r.Annotations["runbook_url"], "/docs/operations.md#")
			require.True(t, ok, "%s: runbook_url points into docs/operations.md", r.Alert)
			require.True(t, sections[anchor], "%s: docs/operations.md has no section ### for #%s", r.Alert, anchor)
		}
	}
	require.GreaterOrEqual(t, alerts, 10)
}
