package cli_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/bootstrap"
	"github.com/jobstatus/jobstatus/cmd/jobstatus/cli"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestServeDevFallsBackWhenPortsAreTaken: with the public and the admin
// port both in use (a developer's Prometheus on the admin port), serve
// --dev starts anyway on free ports, says which in a log line, and the
// printed curl lines use the real port. The write API, which --dev moves
// to a free port unasked, gets its log line too.
func TestServeDevFallsBackWhenPortsAreTaken(t *testing.T) {
	t.Parallel()
	taken := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = ln.Close() })
		return ln.Addr().String()
	}
	public, admin := taken(), taken()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &testkit.LockedBuffer{}, &testkit.LockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- cli.Execute(ctx, []string{"serve", "--dev"}, cli.IO{Stdout: stdout, Stderr: stderr,
			Environ: []string{"JOBSTATUS_HTTP_ADDR=" + public, "JOBSTATUS_ADMIN_ADDR=" + admin, "JOBSTATUS_LOG_FORMAT=json"}})
	}()
	t.Cleanup(func() {
		cancel()
		require.Equal(t, 0, <-done, stderr.String())
	})
	curl := regexp.MustCompile(`curl -i '(http://[^/]+)/patients/composition/job/[^']+' -H 'Authorization: ([^']+)' -H 'api-key: ([^']+)'`)
	var m []string
	testkit.Eventually(t, 10*time.Second, func() bool {
		select {
		case code := <-done:
			t.Fatalf("serve --dev exited with %d: %s", code, stderr.String())
		default:
		}
		m = curl.FindStringSubmatch(stdout.String())
		return m != nil
	}, "curl lines")
	require.NotEqual(t, "http://"+public, m[1], "the curl lines name the port actually used")

	fallbacks := map[string]string{}
	testkit.Eventually(t, 10*time.Second, func() bool { // the log is flushed every second
		for line := range strings.Lines(stderr.String()) {
			var entry struct{ Msg, Listener, Wanted, Addr string }
			if json.Unmarshal([]byte(line), &entry) != nil {
				continue
			}
			switch entry.Msg {
			case "port in use, using a free one instead":
				fallbacks[entry.Listener] = entry.Addr
				require.Contains(t, []string{public, admin}, entry.Wanted)
			case "--dev: the write API listens on a free port; set JOBSTATUS_INTERNAL_ADDR to choose one":
				fallbacks[entry.Listener] = entry.Addr
				require.Equal(t, bootstrap.DefaultConfig().Internal.Addr, entry.Wanted)
			}
		}
		return len(fallbacks) == 3
	}, "a log line per listener moved, the write API's included")
	require.Contains(t, stdout.String(), "write API for workers on http://"+fallbacks["internal"], "the log line names the write API's port")
	require.NotEqual(t, bootstrap.DefaultConfig().Internal.Addr, fallbacks["internal"])
	require.Equal(t, "http://"+fallbacks["public"], m[1], "the log line names the public port used")
	require.NotEmpty(t, fallbacks["admin"], "stderr: %s", stderr.String())

	for _, url := range []string{m[1] + "/no-such-path", "http://" + fallbacks["admin"] + "/healthz"} {
		res, err := http.Get(url)
		require.NoError(t, err)
		res.Body.Close()
	}
}
