package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// readmeBlock is one fenced shell block of README.md or docs/*.md.
type readmeBlock struct {
	file     string // relative to the repository
	line     int    // of the opening fence
	shell    string // as the fence names it: sh or bash
	runnable bool
	text     string
}

// readmeBlocks returns the ```sh and ```bash blocks of README.md, then of
// docs/*.md, in the order a reader meets them; "```bash runnable" marks
// the ones TestREADMEBlocks runs.
func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	docs, err := filepath.Glob("../../docs/*.md")
	require.NoError(t, err)
	fence := regexp.MustCompile("(?m)^```(sh|bash)( runnable)?\\n((?:.*\\n)*?)```$")
	var blocks []readmeBlock
	for _, f := range append([]string{"../../README.md"}, docs...) {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range fence.FindAllSubmatchIndex(raw, -1) {
			blocks = append(blocks, readmeBlock{
				file:     strings.TrimPrefix(f, "../../"),
				line:     bytes.Count(raw[:m[0]], []byte("\n")) + 1,
				shell:    string(raw[m[2]:m[3]]),
				runnable: m[4] >= 0,
				text:     string(raw[m[6]:m[7]]),
			})
		}
	}
	return blocks
}

// TestREADMEBlocks runs every shell block of README.md and docs/ marked
// runnable as pasted into a fresh shell at the root of the repository:
// with the shell its fence names (sh is /bin/sh, dash on Debian; bash is
// bash), -e, and only PATH, HOME and the Go and Docker settings of this
// process, in document order (the README's quick start builds
// bin/jobstatus). Each block gets its own database from `make db`, in a
// container of its own name (DB_CONTAINER), and each default listener
// address (public 127.0.0.1:8080, write API 127.0.0.1:8081, admin
// 127.0.0.1:9464) becomes a free loopback port, so it runs beside other
// tests; the admin port also goes in through the environment, since the
// blocks rely on its default. After each block, the repository's
// `git status` is as before (nothing written into it), no process it
// started is left, and its database container is gone. The only blocks not
// run are lists of make targets in the README (make runs them itself) and
// fragments in docs/.
func TestREADMEBlocks(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	for _, tool := range []string{"make", "docker", "git", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	blocks := readmeBlocks(t)
	runnable := 0
	for _, b := range blocks {
		if b.runnable {
			runnable++
			continue
		}
		if b.file != "README.md" {
			continue // in docs/, a fragment to read
		}
		for line := range strings.Lines(b.text) {
			require.True(t, strings.HasPrefix(line, "make "),
				"README.md:%d: a shell block that is not a list of make targets must be marked runnable:\n%s", b.line, b.text)
		}
	}
	require.Positive(t, runnable, "the README has runnable blocks")

	repo, err := filepath.Abs("../..")
	require.NoError(t, err)
	// What git sees, ignored files included (a key.pem in the root is
	// ignored, not allowed), but for bin/, where make build writes.
	status := func() string {
		out, err := exec.Command("git", "-C", repo, "status", "--porcelain", "--ignored", "--untracked-files=all").Output()
		require.NoError(t, err)
		var keep []string
		for line := range strings.Lines(string(out)) {
			if !strings.HasPrefix(line[3:], "bin/") {
				keep = append(keep, line)
			}
		}
		return strings.Join(keep, "")
	}
	for i, b := range blocks {
		if !b.runnable {
			continue
		}
		// Not parallel: in document order, as a reader runs them.
		t.Run(b.file+":"+strconv.Itoa(b.line), func(t *testing.T) {
			free := func() string { return "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t)) }
			admin := free()
			script := strings.NewReplacer(
				"127.0.0.1:8080", free(), // public
				"127.0.0.1:8081", free(), // write API
				"127.0.0.1:9464", admin,
			).Replace(b.text)
			container := "jobstatus-db-readme-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(i)
			t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", container).Run() })

			args := map[string][]string{"sh": {"/bin/sh", "-eu", "-c"}, "bash": {"bash", "-euo", "pipefail", "-c"}}[b.shell]
			require.NotEmpty(t, args, "%s:%d: no shell for a %s block", b.file, b.line, b.shell)
			before := status()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // the first make build compiles everything
			defer cancel()
			cmd := exec.CommandContext(ctx, args[0], append(args[1:], script)...)
			cmd.Dir = repo
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
				"JOBSTATUS_ADMIN_ADDR=" + admin, "DB_CONTAINER=" + container}
			for _, kv := range os.Environ() {
				if strings.HasPrefix(kv, "GO") || strings.HasPrefix(kv, "DOCKER_") || strings.HasPrefix(kv, "TEST_POSTGRES_IMAGE=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			// Its own process group, so a failed block leaves no serve behind.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var left bool
			if cmd.Process != nil {
				left = !testkit.Within(5*time.Second, func() bool {
					return errors.Is(syscall.Kill(-cmd.Process.Pid, 0), syscall.ESRCH)
				})
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // nothing is left when it passed
			}
			require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			require.Contains(t, stdout.String(), "HTTP/1.1 200 OK", stderr.String())
			require.False(t, left, "a process the block started is still running")
			ps, err := exec.Command("docker", "ps", "-aq", "--filter", "name=^/"+container+"$").Output()
			require.NoError(t, err)
			require.Empty(t, strings.TrimSpace(string(ps)), "the block's database container is still there")
			require.Equal(t, before, status(), "the block wrote into the repository")
		})
	}
}
