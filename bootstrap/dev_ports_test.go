package bootstrap_test

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
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestServeDevFallsBackWhenPortsAreTaken: with the public and the admin
// port both in use (a developer's Prometheus on the admin port), serve
// --dev starts anyway on free ports, says which in a log line, and the
// printed curl lines use the real port.
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
		done <- bootstrap.Execute(ctx, []string{"serve", "--dev"}, bootstrap.IO{Stdout: stdout, Stderr: stderr,
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
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "port in use, using a free one instead" {
				fallbacks[entry.Listener] = entry.Addr
				require.Contains(t, []string{public, admin}, entry.Wanted)
			}
		}
		return len(fallbacks) == 2
	}, "a log line per listener moved")
	require.Equal(t, "http://"+fallbacks["public"], m[1], "the log line names the public port used")
	require.NotEmpty(t, fallbacks["admin"], "stderr: %s", stderr.String())

	for _, url := range []string{m[1] + "/no-such-path", "http://" + fallbacks["admin"] + "/healthz"} {
		res, err := http.Get(url)
		require.NoError(t, err)
		res.Body.Close()
	}
}
