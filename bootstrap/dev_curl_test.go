package bootstrap_test

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestServeDevCurlLinesLeaveAClearTerminal runs every curl line `serve
// --dev` prints, as pasted into a shell: each one that ends by itself ends
// its output with a newline, so the next prompt does not stick to the JSON;
// the event stream, which never ends by itself, says how to end it.
func TestServeDevCurlLinesLeaveAClearTerminal(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	dev := startDev(t)
	dev.lines(t, regexp.MustCompile(`(?m)^curl -N .*$`), 1) // printed last
	stdout := dev.stdout.String()

	var ran int
	var comment string
	for line := range strings.Lines(stdout) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			comment += line + "\n"
			continue
		}
		if !strings.HasPrefix(line, "curl ") {
			comment = ""
			continue
		}
		if strings.Contains(line, "/events") {
			require.Contains(t, comment, "Ctrl-C", "the event stream's line says how to end it")
			comment = ""
			continue
		}
		comment = ""
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, "sh", "-c", line).Output()
		cancel()
		require.NoError(t, err, line)
		require.True(t, strings.HasSuffix(string(out), "}\n"), "%s\nprints %q: it must end with a newline", line, out)
		ran++
	}
	require.GreaterOrEqual(t, ran, 7, "the status lines, the worker's two and the listing:\n%s", stdout)
	dev.stop(t)
}
