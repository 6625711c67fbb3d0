//go:build unix

package reload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/test/testkit"
)

// store is a File's owner in these tests: it keeps the last content it
// accepted; content not starting with "good" is refused.
type store struct {
	mu   sync.Mutex
	data string
}

func (s *store) load(_ context.Context, data []byte) error {
	if !strings.HasPrefix(string(data), "good") {
		return errors.New("not good")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data = string(data)
	return nil
}

func (s *store) current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// reloadBundle is what setup gives a test: two files, as the service
// reloads the api-keys file and the JWKS file.
type reloadBundle struct {
	paths  map[string]string // by label
	stores map[string]*store
}

func setup(t *testing.T) (*Reloader, *reloadBundle) {
	t.Helper()
	dir := t.TempDir()
	b := &reloadBundle{paths: map[string]string{}, stores: map[string]*store{}}
	var files []File
	for _, label := range []string{"api_keys", "jwks"} {
		path := filepath.Join(dir, label)
		require.NoError(t, os.WriteFile(path, []byte("good 1"), 0o600))
		s := &store{data: "good 1"}
		b.paths[label], b.stores[label] = path, s
		files = append(files, File{Label: label, Path: path, MaxSize: 1 << 10, Load: s.load})
	}
	return New(files, "test", zap.NewNop()), b
}

// within runs f and fails the test if it has not returned by the deadline:
// a read that blocks must not block the test binary with it.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not return: blocked on the file", what)
	}
}

// replaceWith puts what make creates at path, by a rename over it (a
// directory cannot replace a file: the file goes first).
func replaceWith(t *testing.T, path string, make func(tmp string)) {
	t.Helper()
	tmp := path + ".new"
	make(tmp)
	if info, err := os.Lstat(tmp); err == nil && info.IsDir() {
		require.NoError(t, os.Remove(path))
	}
	require.NoError(t, os.Rename(tmp, path))
}

// TestReloadRefusesWhatIsNotARegularFile: a named pipe, a directory, a
// device or a file too large at a reloaded path is refused like a bad
// file: the last good content stays, the failure is counted and Ready says
// why; the reload returns at once, and a good file and SIGHUP (a forced
// reload) work afterwards.
func TestReloadRefusesWhatIsNotARegularFile(t *testing.T) {
	t.Parallel()
	kinds := []struct {
		name   string
		make   func(t *testing.T, tmp string)
		reason string
	}{
		{"NamedPipe", func(t *testing.T, tmp string) { require.NoError(t, syscall.Mkfifo(tmp, 0o600)) }, "named pipe"},
		{"NamedPipeWithAWriter", func(t *testing.T, tmp string) {
			require.NoError(t, syscall.Mkfifo(tmp, 0o600))
			w, err := os.OpenFile(tmp, os.O_RDWR, 0)
			require.NoError(t, err)
			t.Cleanup(func() { _ = w.Close() })
		}, "named pipe"},
		{"Directory", func(t *testing.T, tmp string) { require.NoError(t, os.Mkdir(tmp, 0o700)) }, "directory"},
		{"SymlinkToAnEndlessDevice", func(t *testing.T, tmp string) { require.NoError(t, os.Symlink("/dev/zero", tmp)) }, "character device"},
		{"TooLarge", func(t *testing.T, tmp string) {
			require.NoError(t, os.WriteFile(tmp, []byte("good"+strings.Repeat(" ", 1<<10)), 0o600))
		}, "file too large"},
	}
	for _, k := range kinds {
		for _, label := range []string{"api_keys", "jwks"} {
			t.Run(k.name+"/"+label, func(t *testing.T) {
				t.Parallel()
				r, b := setup(t)
				ctx := context.Background()
				path := b.paths[label]
				replaceWith(t, path, func(tmp string) { k.make(t, tmp) })
				within(t, "SIGHUP's reload", func() { r.reload(ctx, true) })
				require.Equal(t, 1.0, testutil.ToFloat64(r.total.WithLabelValues(label, "failure")))
				require.Equal(t, "good 1", b.stores[label].current(), "the last good content stays")
				detail, err := r.Ready(ctx)
				require.NoError(t, err, "a refused reload leaves the instance ready")
				require.Contains(t, detail, label+": last reload at")
				require.Contains(t, detail, k.reason)

				require.NoError(t, os.RemoveAll(path))
				require.NoError(t, os.WriteFile(path, []byte("good 2"), 0o600))
				within(t, "the next reload", func() { r.reload(ctx, true) })
				require.Equal(t, 1.0, testutil.ToFloat64(r.total.WithLabelValues(label, "success")), "a good file is loaded again")
				require.Equal(t, "good 2", b.stores[label].current())
			})
		}
	}
}

// TestReloadLoopSurvivesANamedPipe: through the watch loop, a named pipe
// renamed over a reloaded file is refused, a good file renamed over it
// later is loaded, and Stop returns at once.
func TestReloadLoopSurvivesANamedPipe(t *testing.T) {
	t.Parallel()
	r, b := setup(t)
	ctx := context.Background()
	require.NoError(t, r.Start(ctx))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			within(t, "Stop", func() { _ = r.Stop(ctx) })
		}
	})
	path := b.paths["api_keys"]
	replaceWith(t, path, func(tmp string) { require.NoError(t, syscall.Mkfifo(tmp, 0o600)) })
	testkit.Eventually(t, 10*time.Second, func() bool {
		return testutil.ToFloat64(r.total.WithLabelValues("api_keys", "failure")) == 1
	}, "the named pipe is refused")
	replaceWith(t, path, func(tmp string) { require.NoError(t, os.WriteFile(tmp, []byte("good 2"), 0o600)) })
	testkit.Eventually(t, 10*time.Second, func() bool { return b.stores["api_keys"].current() == "good 2" },
		"a later good file is loaded")
	stopped = true
	within(t, "Stop", func() { require.NoError(t, r.Stop(ctx)) })
}

// TestReloadLoadsTheLastGoodContentPutBack: after a reload refused because
// the file could not be read (gone at a SIGHUP, a directory or a named pipe
// in its place), putting back the very content loaded before is a change
// like any other: it is loaded and clears the refusal, instead of being
// skipped as "unchanged" and leaving /readyz and the log saying "refused"
// until the next SIGHUP.
func TestReloadLoadsTheLastGoodContentPutBack(t *testing.T) {
	t.Parallel()
	for _, k := range []struct {
		name string
		gone func(t *testing.T, path string)
	}{
		{"Removed", func(t *testing.T, path string) { require.NoError(t, os.Remove(path)) }},
		{"Directory", func(t *testing.T, path string) {
			replaceWith(t, path, func(tmp string) { require.NoError(t, os.Mkdir(tmp, 0o700)) })
		}},
		{"NamedPipe", func(t *testing.T, path string) {
			replaceWith(t, path, func(tmp string) { require.NoError(t, syscall.Mkfifo(tmp, 0o600)) })
		}},
	} {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			r, b := setup(t)
			ctx := context.Background()
			path := b.paths["api_keys"]
			k.gone(t, path)
			within(t, "SIGHUP's reload", func() { r.reload(ctx, true) })
			detail, err := r.Ready(ctx)
			require.NoError(t, err)
			require.Contains(t, detail, "api_keys: last reload at")

			require.NoError(t, os.RemoveAll(path))
			require.NoError(t, os.WriteFile(path, []byte("good 1"), 0o600)) // the content loaded at start
			within(t, "the watch's reload", func() { r.reload(ctx, false) })
			detail, err = r.Ready(ctx)
			require.NoError(t, err)
			require.NotContains(t, detail, "refused", "the good file put back clears the refusal")
			require.Equal(t, 1.0, testutil.ToFloat64(r.total.WithLabelValues("api_keys", "success")))
			require.Equal(t, "good 1", b.stores["api_keys"].current())
		})
	}
}

// TestLinkRetargetedIsNoLongerWatchedWhereItLed: once a link leads
// elsewhere, the directory it led into is no longer watched: each
// retarget (to a new release directory at every deploy) left one more
// watch behind, and every change there made a reload.
func TestLinkRetargetedIsNoLongerWatchedWhereItLed(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, d := range []string{"etc", "v1", "v2"} {
		require.NoError(t, os.Mkdir(filepath.Join(root, d), 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(root, d, "keys"), []byte("good "+d), 0o600))
	}
	path := filepath.Join(root, "etc", "link")
	require.NoError(t, os.Symlink("../v1/keys", path))
	s := &store{data: "good v1"}
	r := New([]File{{Label: "api_keys", Path: path, MaxSize: 1 << 10, Load: s.load}}, "test", zap.NewNop())
	require.NoError(t, r.Start(context.Background()))
	tmp := path + ".tmp"
	require.NoError(t, os.Symlink("../v2/keys", tmp))
	require.NoError(t, os.Rename(tmp, path))
	require.Eventually(t, func() bool { return s.current() == "good v2" }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, r.Stop(context.Background()))
	real := func(d string) string {
		p, err := filepath.EvalSymlinks(filepath.Join(root, d))
		require.NoError(t, err)
		return p
	}
	require.Contains(t, r.linked, real("v2"))
	require.NotContains(t, r.linked, real("v1"), "the directory the link left")
}
