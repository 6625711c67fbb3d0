package client_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestReadmeQuickStartsCompile: every Go block of README.md and docs/*.md
// compiles against the package as it is and cannot drift from it. A
// fragment is a part of example_test.go (indentation aside); a whole
// program ("package main") is built as a module of its own that requires
// this one, as a user's program does after `go get`.
func TestReadmeQuickStartsCompile(t *testing.T) {
	t.Parallel()
	examples, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	compiled := dedent(string(examples))
	docs, err := filepath.Glob("../docs/*.md")
	require.NoError(t, err)
	block := regexp.MustCompile("(?s)```go\n(.*?)```")
	programs := 0
	for _, f := range append(docs, "../README.md") {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		blocks := block.FindAllStringSubmatch(string(raw), -1)
		if f == "../README.md" {
			require.GreaterOrEqual(t, len(blocks), 2, "the README has a worker's and an MIS's quick start")
		}
		for _, b := range blocks {
			if strings.HasPrefix(b[1], "package main\n") {
				buildProgram(t, f, b[1])
				programs++
				continue
			}
			require.Contains(t, compiled, dedent(b[1]), "a Go block of %s is not in client/example_test.go", f)
		}
	}
	require.Positive(t, programs, "the README shows a whole program that depends on the client")
}

// buildProgram builds src as the main package of a module of its own that
// requires github.com/jobstatus/jobstatus, replaced by this repository,
// with no network (GOPROXY=off): the client needs nothing but the standard
// library.
func buildProgram(t *testing.T, file, src string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a program")
	}
	repo, err := filepath.Abs("..")
	require.NoError(t, err)
	dir := t.TempDir()
	mod := "module example.test/program\n\ngo 1.26\n\nrequire github.com/jobstatus/jobstatus v0.0.0\n\nreplace github.com/jobstatus/jobstatus => " + repo + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", os.DevNull, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the program of %s does not build:\n%s", file, out)
	gofmt, err := exec.Command("gofmt", "-l", filepath.Join(dir, "main.go")).CombinedOutput()
	if err == nil {
		require.Empty(t, strings.TrimSpace(string(gofmt)), "the program of %s is not gofmt-formatted", file)
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
