package reload_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/reload"
)

// testBundle is a watched file and what its loader was given.
type testBundle struct {
	path   string
	loaded chan string // each content the loader was asked to apply
}

func setup(t *testing.T) (*reload.Reloader, *testBundle) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.yaml")
	require.NoError(t, os.WriteFile(path, []byte("first"), 0o600))
	return watch(t, path)
}

// watch starts a Reloader of the file at path, which exists.
func watch(t *testing.T, path string) (*reload.Reloader, *testBundle) {
	t.Helper()
	b := &testBundle{path: path, loaded: make(chan string, 10)}
	r := reload.New([]reload.File{{Label: "keys", Path: b.path, MaxSize: 1 << 20, Load: func(_ context.Context, data []byte) error {
		b.loaded <- string(data)
		if string(data) == "bad" {
			return errors.New("bad content")
		}
		return nil
	}}}, "test", zap.NewNop())
	require.NoError(t, r.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, r.Stop(context.Background())) })
	return r, b
}

// eventually waits until the loader is given want, within a deadline: a
// reload may read a file os.WriteFile has truncated but not yet written.
func (b *testBundle) eventually(t *testing.T, want, what string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-b.loaded:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("%s: %q was not reloaded", what, want)
		}
	}
}

// next is the next content the loader was given, within a deadline.
func (b *testBundle) next(t *testing.T) string {
	t.Helper()
	select {
	case got := <-b.loaded:
		return got
	case <-time.After(10 * time.Second):
		t.Fatal("the file was not reloaded")
		return ""
	}
}

func TestReloader(t *testing.T) {
	t.Parallel()

	t.Run("ReloadsAChangedFile", func(t *testing.T) {
		t.Parallel()
		r, b := setup(t)
		require.NoError(t, os.WriteFile(b.path, []byte("second"), 0o600))
		require.Equal(t, "second", b.next(t))
		ready, err := r.Ready(context.Background())
		require.NoError(t, err)
		require.Contains(t, ready, "keys loaded ")
		reloads(t, r, 1, 0)
	})

	t.Run("KeepsTheLastGoodContentWhenRefused", func(t *testing.T) {
		t.Parallel()
		r, b := setup(t)
		require.NoError(t, os.WriteFile(b.path, []byte("bad"), 0o600))
		require.Equal(t, "bad", b.next(t))
		ready, err := r.Ready(context.Background())
		require.NoError(t, err, "a refused reload leaves the instance ready")
		require.Contains(t, ready, "refused (bad content)")
		reloads(t, r, 0, 1)
	})
}

// reloads requires the reload counter of the "keys" file.
func reloads(t *testing.T, r *reload.Reloader, success, failure int) {
	t.Helper()
	want := fmt.Sprintf(`# HELP test_config_reload_total Reloads of the api-keys file and the JWKS, by file and result (success or failure).
# TYPE test_config_reload_total counter
test_config_reload_total{file="keys",result="failure"} %d
test_config_reload_total{file="keys",result="success"} %d
`, failure, success)
	require.NoError(t, testutil.CollectAndCompare(r, strings.NewReader(want), "test_config_reload_total"))
}

// TestReloadWhileAnotherFileInTheDirectoryKeepsChanging: a file beside the
// watched one that changes more often than the debounce (a log, a lock
// file, a sidecar's state) must not put the reload off. The debounce was
// reset by every event of the directory, so a client removed from the
// api-keys file kept its access for as long as the other file kept
// changing.
func TestReloadWhileAnotherFileInTheDirectoryKeepsChanging(t *testing.T) {
	t.Parallel()
	_, b := setup(t)
	busy := filepath.Join(filepath.Dir(b.path), "busy.log")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = os.WriteFile(busy, []byte(fmt.Sprint(i)), 0o600)
			}
		}
	}()
	defer func() { close(stop); <-done }()
	time.Sleep(200 * time.Millisecond) // the other file is changing already
	require.NoError(t, os.WriteFile(b.path, []byte("second"), 0o600))
	b.eventually(t, "second", "while another file in its directory kept changing")
}
