package test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBenchWritesItsFigures: make bench records each of its parts into
// docs/performance.md between that part's markers (scripts/bench/record.sh),
// so no figure is pasted by hand; a part that fails leaves the page as it
// was and fails make.
func TestBenchWritesItsFigures(t *testing.T) {
	t.Parallel()
	page, err := os.ReadFile("../docs/performance.md")
	require.NoError(t, err)
	makefile, err := os.ReadFile("../Makefile")
	require.NoError(t, err)
	recipe := regexp.MustCompile(`(?m)^bench:.*\n((?:\t.*\n)+)`).FindSubmatch(makefile)
	require.NotNil(t, recipe, "the Makefile has a bench target")
	parts := 0
	for line := range strings.Lines(string(recipe[1])) {
		m := regexp.MustCompile(`^\tscripts/bench/record\.sh (\w+) `).FindStringSubmatch(line)
		require.NotNil(t, m, "every step of make bench is recorded: %q", line)
		require.Contains(t, string(page), "<!-- bench:"+m[1]+" begin -->\n")
		require.Contains(t, string(page), "<!-- bench:"+m[1]+" end -->\n")
		parts++
	}
	require.Equal(t, 5, parts, "micro-benchmarks, overhead, load run, wake-ups, write cost")

	doc := filepath.Join(t.TempDir(), "performance.md")
	const before = "# Performance\n\n<!-- bench:load begin -->\nold figures\n<!-- bench:load end -->\n\nthe rest\n"
	require.NoError(t, os.WriteFile(doc, []byte(before), 0o644))
	record := func(args ...string) (string, error) {
		cmd := exec.Command("../scripts/bench/record.sh", args...)
		cmd.Env = append(os.Environ(), "BENCH_DOC="+doc)
		out, err := cmd.Output()
		return string(out), err
	}

	t.Run("WritesBetweenTheMarkers", func(t *testing.T) {
		out, err := record("load", "printf", "\\njobstatus, 64 conns   57675 req/s  \\n")
		require.NoError(t, err)
		require.Equal(t, "\njobstatus, 64 conns   57675 req/s  \n", out, "the output passes through")
		got, err := os.ReadFile(doc)
		require.NoError(t, err)
		require.Regexp(t, "^# Performance\n\n<!-- bench:load begin -->\nRecorded by `make bench` on \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC, commit \\S+, \\d+ cores, load average [0-9. ]+:\n\n"+
			"```text\njobstatus, 64 conns   57675 req/s\n```\n<!-- bench:load end -->\n\nthe rest\n$", string(got))
	})
	t.Run("AFailedRunLeavesThePage", func(t *testing.T) {
		written, err := os.ReadFile(doc)
		require.NoError(t, err)
		_, err = record("load", "sh", "-c", "echo partial; exit 3")
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "%v", err)
		require.Equal(t, 3, exit.ExitCode())
		got, err := os.ReadFile(doc)
		require.NoError(t, err)
		require.Equal(t, string(written), string(got))
	})
	t.Run("RefusesAPartWithoutMarkers", func(t *testing.T) {
		_, err := record("nosuchpart", "true")
		require.Error(t, err)
	})
}

// TestScriptsParse: every shell script of the repository parses (bash -n),
// so a quoting slip in a part of make bench, which make test never runs,
// is found here rather than half-way through a bench (an apostrophe in
// overhead.sh's awk program once ended its quoting).
func TestScriptsParse(t *testing.T) {
	t.Parallel()
	scripts, err := filepath.Glob("../scripts/*.sh")
	require.NoError(t, err)
	more, err := filepath.Glob("../scripts/*/*.sh")
	require.NoError(t, err)
	scripts = append(append(scripts, more...), "../.ci/run")
	require.GreaterOrEqual(t, len(scripts), 8)
	for _, s := range scripts {
		out, err := exec.Command("bash", "-n", s).CombinedOutput()
		require.NoError(t, err, "%s does not parse: %s", s, out)
	}
}

// TestWhereSortsSamplesByKind: make bench's CPU table (scripts/bench/where.awk)
// gives each profile sample to the kind of its innermost frame that has
// one: an allocation made while parsing is "allocation", the socket write
// under the handler is the socket's, zap's encoding is the access log's.
func TestWhereSortsSamplesByKind(t *testing.T) {
	t.Parallel()
	traces := `File: jobstatus
Type: cpu
-----------+-------------------------------------------------------
      10ms   runtime.mallocgc
             net/textproto.readMIMEHeader
             net/http.readRequest
             net/http.(*conn).serve
-----------+-------------------------------------------------------
     1.5s   internal/runtime/syscall/linux.Syscall6
             internal/poll.(*FD).Write
             net/http.(*response).FlushError
             github.com/jobstatus/jobstatus/adapters/httpapi.sendNow
-----------+-------------------------------------------------------
     500us   go.uber.org/zap/zapcore.(*jsonEncoder).AppendString
             github.com/jobstatus/jobstatus/adapters/httpapi.edge.accessLog.func2.1
-----------+-------------------------------------------------------
      30ms   net/textproto.(*Reader).ReadLine (inline)
             net/http.readRequest
-----------+-------------------------------------------------------
      20ms   runtime.gcDrain
             runtime.gcAssistAlloc1
             runtime.mallocgc
             net/http.readRequest
-----------+-------------------------------------------------------
      40ms   memeqbody
             main.main
`
	cmd := exec.Command("awk", "-v", "tsv=1", "-f", "../scripts/bench/where.awk")
	cmd.Stdin = strings.NewReader(traces)
	out, err := cmd.Output()
	require.NoError(t, err)
	got := map[string]string{}
	for line := range strings.Lines(string(out)) {
		kind, ms, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "\t")
		require.True(t, ok, "line %q", line)
		got[kind] = ms
	}
	require.Equal(t, map[string]string{
		"allocation":                                     "10.0",
		"write the answer (socket)":                      "1500.0",
		"access log (zap)":                               "0.5",
		"parse the request (net/http)":                   "30.0",
		"garbage collector (marking, assists, sweeping)": "20.0",
		"other": "40.0",
	}, got)
}
