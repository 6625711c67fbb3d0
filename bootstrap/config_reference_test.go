package bootstrap

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the generated reference in docs/configuration.md")

const configurationDoc = "../docs/configuration.md"

// TestConfigurationReferenceIsCurrent keeps docs/configuration.md's table
// equal to what Config and DefaultConfig say; `go generate ./bootstrap`
// rewrites it.
func TestConfigurationReferenceIsCurrent(t *testing.T) {
	data, err := os.ReadFile(configurationDoc)
	require.NoError(t, err)
	doc := string(data)
	before, rest, ok := strings.Cut(doc, referenceBegin+"\n")
	require.True(t, ok, "%s lacks the line %s", configurationDoc, referenceBegin)
	_, after, ok := strings.Cut(rest, referenceEnd)
	require.True(t, ok, "%s lacks the line %s", configurationDoc, referenceEnd)
	want := before + referenceBegin + "\n" + configReference() + referenceEnd + after
	if *update {
		require.NoError(t, os.WriteFile(configurationDoc, []byte(want), 0o644))
		return
	}
	require.Equal(t, want, doc, "docs/configuration.md is stale: run go generate ./bootstrap")
}

// TestDocumentedDefaultsMatch checks the defaults the README and the docs
// quote in prose, written "`JOBSTATUS_X` (value)", against DefaultConfig:
// once the README said 10 000 waiters and a 32-connection pool while the
// code used 4 096 and 16. Every JOBSTATUS_ name they mention must exist.
func TestDocumentedDefaultsMatch(t *testing.T) {
	t.Parallel()
	def := DefaultConfig()
	// Not settings of the service: the file itself, the test switch, and
	// the credentials of the wait command.
	defaults := map[string]string{"JOBSTATUS_CONFIG": "", "JOBSTATUS_SKIP_CONTAINERS": "", "JOBSTATUS_TOKEN": "", "JOBSTATUS_API_KEY": ""}
	for _, s := range settingsOf(&def) {
		if s.env != "" {
			defaults[s.env] = formatValue(s.value)
		}
	}
	quoted := regexp.MustCompile("`(JOBSTATUS_[A-Z0-9_]+)`,? \\(([^)]*)\\)")
	mentioned := regexp.MustCompile(`JOBSTATUS_[A-Z0-9_]*[A-Z0-9](_\*)?`)
	docs, err := filepath.Glob("../docs/*.md")
	require.NoError(t, err)
	require.Contains(t, docs, configurationDoc)
	for _, file := range append(docs, "../README.md") {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, name := range mentioned.FindAllString(string(data), -1) {
			_, known := defaults[name]
			if prefix, ok := strings.CutSuffix(name, "*"); ok { // a family: JOBSTATUS_AUTH_*
				for env := range defaults {
					known = known || strings.HasPrefix(env, prefix)
				}
			}
			require.True(t, known, "%s mentions %s, which is no setting", file, name)
		}
		for _, m := range quoted.FindAllStringSubmatch(string(data), -1) {
			// Prose writes 8 192 and 30 s; the environment 8192 and 30s.
			got := strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "").Replace(m[2])
			require.Equal(t, defaults[m[1]], got, "%s quotes %s as the default of %s", file, m[2], m[1])
		}
	}
}
