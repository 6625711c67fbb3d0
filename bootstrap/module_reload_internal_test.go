//go:build unix

package bootstrap

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/apikey"
	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// reloadBundle is a reloader over real stores and the files they came from.
type reloadBundle struct {
	kit      *testkit.Kit
	keys     string // the api-keys file
	jwks     []byte // the JWKS file's first content
	clients  *apikey.Store
	verifier *jwtauth.Verifier
}

func setupReload(t *testing.T) (*reloader, *reloadBundle) {
	t.Helper()
	kit := testkit.New(t)
	keys := filepath.Join(t.TempDir(), "clients.yaml")
	require.NoError(t, os.WriteFile(keys, testkit.ClientsFile("mis-a"), 0o600))
	clients, err := apikey.Load(keys)
	require.NoError(t, err)
	v, err := jwtauth.NewVerifier(kit.VerifierConfig(), nil)
	require.NoError(t, err)
	t.Cleanup(v.Close)
	cfg := DefaultConfig()
	cfg.APIKeysFile, cfg.Auth.JWKSFile = keys, kit.JWKSFile
	r, err := newReloader(cfg, clients, v, zap.NewNop())
	require.NoError(t, err)
	jwks, err := os.ReadFile(kit.JWKSFile)
	require.NoError(t, err)
	return r, &reloadBundle{kit: kit, keys: keys, jwks: jwks, clients: clients, verifier: v}
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
// device, a socket or a file too large at the api-keys or JWKS path is
// refused like a bad file: the last good set stays, the failure is counted
// and /readyz says why; the reload returns at once, and a good file and
// SIGHUP (reload forced) work afterwards.
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
			require.NoError(t, os.WriteFile(tmp, []byte("#"+strings.Repeat(" ", 1<<20)+"\n"), 0o600))
		}, "file too large"},
	}
	for _, k := range kinds {
		for _, label := range []string{fileAPIKeys, fileJWKS} {
			t.Run(k.name+"/"+label, func(t *testing.T) {
				t.Parallel()
				r, b := setupReload(t)
				ctx := context.Background()
				path, accepted := b.keys, func() bool {
					_, err := b.clients.ClientByAPIKey(ctx, "mis-a-key")
					return err == nil
				}
				if label == fileJWKS {
					path, accepted = b.kit.JWKSFile, func() bool {
						_, err := b.verifier.Verify(ctx, b.kit.Token(testkit.ClientA))
						return err == nil
					}
				}
				replaceWith(t, path, func(tmp string) { k.make(t, tmp) })
				within(t, "SIGHUP's reload", func() { r.reload(ctx, true) })
				require.Equal(t, 1.0, testutil.ToFloat64(r.total.WithLabelValues(label, "failure")))
				require.True(t, accepted(), "the last good set stays")
				detail, err := r.Ready(ctx)
				require.NoError(t, err, "a refused reload leaves the instance ready")
				require.Contains(t, detail, label+": last reload at")
				require.Contains(t, detail, k.reason)

				require.NoError(t, os.RemoveAll(path))
				if label == fileAPIKeys {
					require.NoError(t, os.WriteFile(path, testkit.ClientsFile("mis-a", "mis-b"), 0o600))
				} else {
					require.NoError(t, os.WriteFile(path, b.jwks, 0o600))
				}
				within(t, "the next reload", func() { r.reload(ctx, true) })
				require.Equal(t, 1.0, testutil.ToFloat64(r.total.WithLabelValues(label, "success")), "a good file is loaded again")
				require.True(t, accepted())
				if label == fileAPIKeys {
					_, err := b.clients.ClientByAPIKey(ctx, "mis-b-key")
					require.NoError(t, err, "the new set is in use")
				}
			})
		}
	}
}

// TestReloadLoopSurvivesANamedPipe: through the watch loop, a named pipe
// renamed over the api-keys file is refused, a good file renamed over it
// later is loaded, and Stop returns at once.
func TestReloadLoopSurvivesANamedPipe(t *testing.T) {
	t.Parallel()
	r, b := setupReload(t)
	ctx := context.Background()
	require.NoError(t, r.Start(ctx))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			within(t, "Stop", func() { _ = r.Stop(ctx) })
		}
	})
	replaceWith(t, b.keys, func(tmp string) { require.NoError(t, syscall.Mkfifo(tmp, 0o600)) })
	testkit.Eventually(t, 10*time.Second, func() bool {
		return testutil.ToFloat64(r.total.WithLabelValues(fileAPIKeys, "failure")) == 1
	}, "the named pipe is refused")
	replaceWith(t, b.keys, func(tmp string) { require.NoError(t, os.WriteFile(tmp, testkit.ClientsFile("mis-b"), 0o600)) })
	testkit.Eventually(t, 10*time.Second, func() bool {
		_, err := b.clients.ClientByAPIKey(ctx, "mis-b-key")
		return err == nil
	}, "a later good file is loaded")
	stopped = true
	within(t, "Stop", func() { require.NoError(t, r.Stop(ctx)) })
}
