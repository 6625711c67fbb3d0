package client_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeQuickStartsCompile: every Go block of README.md and docs/*.md
// is a part of example_test.go (indentation aside), so the quick starts
// compile against the package as it is and cannot drift from it.
func TestReadmeQuickStartsCompile(t *testing.T) {
	t.Parallel()
	examples, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	compiled := dedent(string(examples))
	docs, err := filepath.Glob("../docs/*.md")
	require.NoError(t, err)
	block := regexp.MustCompile("(?s)```go\n(.*?)```")
	for _, f := range append(docs, "../README.md") {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		blocks := block.FindAllStringSubmatch(string(raw), -1)
		if f == "../README.md" {
			require.GreaterOrEqual(t, len(blocks), 2, "the README has a worker's and an MIS's quick start")
		}
		for _, b := range blocks {
			require.Contains(t, compiled, dedent(b[1]), "a Go block of %s is not in client/example_test.go", f)
		}
	}
}

// dedent drops each line's leading white space.
func dedent(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimLeft(l, " \t")
	}
	return strings.Join(lines, "\n")
}
