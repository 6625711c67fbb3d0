package client_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeQuickStartsCompile: every Go block of the README is a part of
// example_test.go (indentation aside), so the quick starts compile against
// the package as it is and cannot drift from it.
func TestReadmeQuickStartsCompile(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	examples, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	require.GreaterOrEqual(t, len(blocks), 2, "the README has a worker's and an MIS's quick start")
	compiled := dedent(string(examples))
	for _, b := range blocks {
		require.Contains(t, compiled, dedent(b[1]), "README Go block is not in client/example_test.go")
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
