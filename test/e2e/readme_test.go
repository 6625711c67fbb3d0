package e2e

import (
	"bytes"
	"context"
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
	runnable bool
	text     string
}

// readmeBlocks returns the ```sh blocks of README.md and docs/*.md;
// "```sh runnable" marks the ones TestREADMEBlocks runs.
func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	docs, err := filepath.Glob("../../docs/*.md")
	require.NoError(t, err)
	fence := regexp.MustCompile("(?m)^```sh( runnable)?\n((?:.*\n)*?)```$")
	var blocks []readmeBlock
	for _, f := range append([]string{"../../README.md"}, docs...) {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range fence.FindAllSubmatchIndex(raw, -1) {
			blocks = append(blocks, readmeBlock{
				file:     strings.TrimPrefix(f, "../../"),
				line:     bytes.Count(raw[:m[0]], []byte("\n")) + 1,
				runnable: m[2] >= 0,
				text:     string(raw[m[4]:m[5]]),
			})
		}
	}
	return blocks
}

// TestREADMEBlocks runs every README shell block marked runnable as pasted
// on a fresh machine: bash -e in an empty directory holding bin/jobstatus,
// with only PATH and HOME from this process. Two things are put in place,
// so it runs beside other tests: the PostgreSQL URL of the block becomes a
// fresh database of the test's container, and each default listener
// address (public 127.0.0.1:8080, write API 127.0.0.1:8081, admin
// 127.0.0.1:9464) a free loopback port of its own; the admin port also goes
// in through the environment, since the blocks rely on its default. The
// only blocks not run are lists of make targets (make runs them itself).
func TestREADMEBlocks(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
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

	for _, b := range blocks {
		if !b.runnable {
			continue
		}
		t.Run(b.file+":"+strconv.Itoa(b.line), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			require.NoError(t, os.Mkdir(filepath.Join(dir, "bin"), 0o755))
			require.NoError(t, os.Symlink(bin, filepath.Join(dir, "bin", "jobstatus")))
			free := func() string { return "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t)) }
			admin := free()
			script := strings.NewReplacer(
				"postgres://user:pass@127.0.0.1:5432/jobs?sslmode=disable", pg.URL(pg.BareSchema(t)),
				"127.0.0.1:8080", free(), // public
				"127.0.0.1:8081", free(), // write API
				"127.0.0.1:9464", admin,
			).Replace(b.text)

			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
			cmd.Dir = dir
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
				"JOBSTATUS_ADMIN_ADDR=" + admin}
			// Its own process group, so a failed block leaves no serve behind.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if cmd.Process != nil {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // nothing is left when it passed
			}
			require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			require.Contains(t, stdout.String(), "HTTP/1.1 200 OK", stderr.String())
		})
	}
}
