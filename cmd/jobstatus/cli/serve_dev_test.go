package cli_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/bootstrap"
	"github.com/jobstatus/jobstatus/cmd/jobstatus/cli"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// devRun is `serve --dev` running in this process through Execute.
type devRun struct {
	stdout, stderr *testkit.LockedBuffer
	cancel         context.CancelFunc
	done           chan int
}

// startDev runs `serve --dev` on free loopback ports until stop.
func startDev(t *testing.T) *devRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &devRun{stdout: &testkit.LockedBuffer{}, stderr: &testkit.LockedBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() {
		d.done <- cli.Execute(ctx, []string{"serve", "--dev"}, cli.IO{Stdout: d.stdout, Stderr: d.stderr,
			Environ: []string{"JOBSTATUS_HTTP_ADDR=127.0.0.1:0", "JOBSTATUS_ADMIN_ADDR=127.0.0.1:0"}})
	}()
	t.Cleanup(cancel)
	return d
}

// lines waits until stdout holds n matches of re and returns them.
func (d *devRun) lines(t *testing.T, re *regexp.Regexp, n int) [][]string {
	t.Helper()
	var lines [][]string
	testkit.Eventually(t, 10*time.Second, func() bool {
		select {
		case code := <-d.done:
			t.Fatalf("serve --dev exited with %d: %s", code, d.stderr.String())
		default:
		}
		lines = re.FindAllStringSubmatch(d.stdout.String(), -1)
		return len(lines) == n
	}, "stdout: %s", d.stdout)
	return lines
}

// stop cancels the run, requires exit status 0 and returns what it logged.
func (d *devRun) stop(t *testing.T) string {
	t.Helper()
	d.cancel()
	select {
	case code := <-d.done:
		require.Equal(t, 0, code, d.stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatal("serve --dev did not stop")
	}
	return d.stderr.String()
}

func TestServeDevPrintsWorkingCurlLines(t *testing.T) {
	t.Parallel()
	dev := startDev(t)
	lines := dev.lines(t, regexp.MustCompile(`curl -i '([^']+)' -H 'Authorization: ([^']+)' -H 'api-key: ([^']+)'`), 4)

	for _, m := range lines {
		req, err := http.NewRequest("GET", m[1], nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", m[2])
		req.Header.Set("api-key", m[3])
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch {
		case strings.Contains(string(body), `"status":"PENDING"`), strings.Contains(string(body), `"status":"DONE"`),
			strings.Contains(string(body), `"status":"FAILED"`):
			require.Equal(t, 200, res.StatusCode)
		default:
			require.Equal(t, 404, res.StatusCode, "the fourth job belongs to another client: %s", body)
		}
	}
	stdout := dev.stdout.String()
	require.True(t, strings.Contains(stdout, "# PENDING") && strings.Contains(stdout, "# DONE") &&
		strings.Contains(stdout, "# FAILED"))

	logged := dev.stop(t)
	// The logs never carry the api-key or the token.
	m := lines[0]
	require.NotContains(t, logged, m[3])
	require.NotContains(t, logged, strings.TrimPrefix(m[2], "Bearer "))
}

// TestServeDevPrintsWorkingWorkerLines: serve --dev runs the write API on a
// free loopback port with a demo writer, and its printed curl lines create
// a job and complete the pending demo job.
func TestServeDevPrintsWorkingWorkerLines(t *testing.T) {
	t.Parallel()
	dev := startDev(t)
	lines := dev.lines(t, regexp.MustCompile(`curl -i -X POST '([^']+)' -H 'Authorization: ([^']+)' -H 'Content-Type: application/json' -d '([^']+)'`), 2)
	require.Regexp(t, `^http://127\.0\.0\.1:\d+/internal/jobs$`, lines[0][1])
	require.NotContains(t, lines[0][1], ":8081", "a free port, so two demos can run")

	for i, want := range []int{http.StatusCreated, http.StatusOK} {
		m := lines[i]
		r := testkit.Do(t, nil, http.MethodPost, m[1], http.Header{"Authorization": {m[2]}, "Content-Type": {"application/json"}}, strings.NewReader(m[3]))
		require.Equal(t, want, r.Status, "%s: %s", m[1], r.Raw)
	}
	require.Contains(t, dev.stdout.String(), "client "+bootstrap.DevWorkerID+", scope "+domain.ScopeCompositionJobWrite)

	logged := dev.stop(t)
	require.NotContains(t, logged, strings.TrimPrefix(lines[0][2], "Bearer "))
}
