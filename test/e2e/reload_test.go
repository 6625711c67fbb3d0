package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// replaceFile writes data next to path and renames it over path, as
// editors and configuration tools do.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, data, 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

// reloadService runs serve on a fresh database with the kit's JWKS, the
// api-keys file at keys and an admin listener; it returns the service, the
// admin address and a function that answers the status a client's request
// for its own job gets (200: accepted; 401: refused).
func reloadService(t *testing.T, kit *testkit.Kit, keys string) (*testkit.Process, string, func(client string) int) {
	t.Helper()
	admin := adminAddr(t)
	dbEnv := []string{"JOBSTATUS_DATABASE_URL=" + pg.Schema(t)}
	svc := serve(t, append(dbEnv, "JOBSTATUS_AUTH_JWKS_FILE="+kit.JWKSFile, "JOBSTATUS_API_KEYS_FILE="+keys,
		"JOBSTATUS_AUTH_ISSUER="+testkit.Issuer, "JOBSTATUS_AUTH_AUDIENCE="+testkit.Audience, "JOBSTATUS_ADMIN_ADDR="+admin))
	jobs := map[string]string{}
	status := func(client string) int {
		if jobs[client] == "" {
			jobs[client] = mustJob(t, jobstatus(t, dbEnv, "jobs", "create", "--client", client)).ID
		}
		return get(t, svc, "GET", jobPath(jobs[client]), creds(kit.Token(client), client+"-key")).Status
	}
	return svc, admin, status
}

// TestReloadWithoutRestart: clients and keys added to or removed from the
// files reach a running service, on SIGHUP and when a file changes on
// disk (rename over it, Kubernetes' symlink swap); a refused file keeps the
// last good set and says so in /readyz and the metrics; SIGHUP does not
// end the process.
func TestReloadWithoutRestart(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)

	t.Run("RenameOverTheFile", func(t *testing.T) {
		t.Parallel()
		kit := testkit.New(t)
		keys := filepath.Join(t.TempDir(), "clients.yaml")
		require.NoError(t, os.WriteFile(keys, testkit.ClientsFile("mis-a", "mis-b"), 0o600))
		svc, admin, status := reloadService(t, kit, keys)
		require.Equal(t, 200, status("mis-a"))
		require.Equal(t, 200, status("mis-b"), "a token of mis-b is now in the verifier's cache")
		require.Equal(t, 401, status("mis-c"))

		replaceFile(t, keys, testkit.ClientsFile("mis-a", "mis-c"))
		testkit.Eventually(t, 10*time.Second, func() bool { return status("mis-c") == 200 }, "the added client is accepted")
		require.Equal(t, 401, status("mis-b"), "the removed client is refused, its cached token with it")
		require.Equal(t, 200, status("mis-a"))

		replaceFile(t, keys, []byte("clients: [{id: broken"))
		testkit.Eventually(t, 10*time.Second, func() bool {
			_, body := adminGet(t, admin, "/metrics")
			return strings.Contains(body, `jobstatus_config_reload_total{file="api_keys",result="failure"} 1`)
		}, "the refused reload is counted")
		require.Equal(t, 200, status("mis-c"), "the last good set stays")
		require.Equal(t, 401, status("mis-b"))
		code, body := adminGet(t, admin, "/readyz")
		require.Equal(t, 200, code, body)
		require.Contains(t, body, "api_keys: last reload at")
		require.Contains(t, body, "refused")
		require.True(t, svc.Running())
	})

	t.Run("NamedPipeAtThePath", func(t *testing.T) {
		t.Parallel()
		kit := testkit.New(t)
		keys := filepath.Join(t.TempDir(), "clients.yaml")
		require.NoError(t, os.WriteFile(keys, testkit.ClientsFile("mis-a", "mis-b"), 0o600))
		svc, admin, status := reloadService(t, kit, keys)
		require.Equal(t, 200, status("mis-b"))

		require.NoError(t, syscall.Mkfifo(keys+".fifo", 0o600))
		require.NoError(t, os.Rename(keys+".fifo", keys))
		testkit.Eventually(t, 10*time.Second, func() bool {
			_, body := adminGet(t, admin, "/metrics")
			return strings.Contains(body, `jobstatus_config_reload_total{file="api_keys",result="failure"} 1`)
		}, "the named pipe is refused, not read")
		code, body := adminGet(t, admin, "/readyz")
		require.Equal(t, 200, code, body)
		require.Contains(t, body, "named pipe")
		require.Equal(t, 200, status("mis-b"), "the last good set stays")

		// A good file written in place, announced by SIGHUP alone.
		require.NoError(t, os.Remove(keys))
		require.NoError(t, os.WriteFile(keys, testkit.ClientsFile("mis-a"), 0o600))
		require.NoError(t, svc.Signal(syscall.SIGHUP))
		testkit.Eventually(t, 10*time.Second, func() bool { return status("mis-b") == 401 }, "the removed client is refused")
		require.NoError(t, svc.Terminate(10*time.Second), "SIGTERM ends the service with status 0:\n%s", svc.Stderr.String())
	})

	t.Run("KubernetesSymlinkSwap", func(t *testing.T) {
		t.Parallel()
		kit := testkit.New(t)
		dir := t.TempDir()
		version := func(name string, data []byte) {
			require.NoError(t, os.Mkdir(filepath.Join(dir, name), 0o700))
			require.NoError(t, os.WriteFile(filepath.Join(dir, name, "clients.yaml"), data, 0o600))
		}
		version("..2026_11_29_a", testkit.ClientsFile("mis-a"))
		require.NoError(t, os.Symlink("..2026_11_29_a", filepath.Join(dir, "..data")))
		require.NoError(t, os.Symlink("..data/clients.yaml", filepath.Join(dir, "clients.yaml")))
		_, _, status := reloadService(t, kit, filepath.Join(dir, "clients.yaml"))
		require.Equal(t, 401, status("mis-c"))

		version("..2026_11_29_b", testkit.ClientsFile("mis-c"))
		require.NoError(t, os.Symlink("..2026_11_29_b", filepath.Join(dir, "..data_tmp")))
		require.NoError(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
		require.NoError(t, os.RemoveAll(filepath.Join(dir, "..2026_11_29_a")))
		testkit.Eventually(t, 10*time.Second, func() bool { return status("mis-c") == 200 }, "the swapped-in client is accepted")
		require.Equal(t, 401, status("mis-a"))
	})

	t.Run("SIGHUPReloadsTheJWKS", func(t *testing.T) {
		t.Parallel()
		kit := testkit.New(t)
		keys := filepath.Join(t.TempDir(), "clients.yaml")
		require.NoError(t, os.WriteFile(keys, testkit.ClientsFile("mis-a"), 0o600))
		svc, admin, status := reloadService(t, kit, keys)
		require.Equal(t, 200, status("mis-a"), "the token is verified and cached")

		// Only the RSA key stays: the kit signs with its EC key. Written in
		// place (no event on a rename) and announced by SIGHUP alone.
		rsa, err := jwtauth.NewSigner(kit.RSA)
		require.NoError(t, err)
		doc, err := rsa.JWKS()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(kit.JWKSFile, doc, 0o600))
		require.NoError(t, svc.Signal(syscall.SIGHUP))
		testkit.Eventually(t, 10*time.Second, func() bool { return status("mis-a") == 401 }, "the removed key's cached token is refused")
		require.True(t, svc.Running(), "SIGHUP does not end the process")

		_, body := adminGet(t, admin, "/metrics")
		require.Contains(t, body, `jobstatus_config_reload_total{file="jwks",result="success"}`)
		require.Contains(t, body, `jobstatus_config_reload_last_success_timestamp_seconds{file="jwks"}`)
	})
}

// TestRefusedJWKSKeepsTheKeys: a JWKS without a usable key (empty, or
// only unusable keys), or no JWK Set at all, is refused on reload: tokens
// keep verifying with the last good keys, and the metrics count the
// refusal and the skipped keys.
func TestRefusedJWKSKeepsTheKeys(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	tests := []struct {
		name string
		doc  string
	}{
		{"Empty", `{"keys":[]}`},
		{"OnlyUnusableKeys", `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"hmac"}]}`},
		{"NotAJWKSet", `not json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kit := testkit.New(t)
			keys := filepath.Join(t.TempDir(), "clients.yaml")
			require.NoError(t, os.WriteFile(keys, testkit.ClientsFile("mis-a"), 0o600))
			svc, admin, status := reloadService(t, kit, keys)
			require.Equal(t, 200, status("mis-a"))
			require.NoError(t, os.WriteFile(kit.JWKSFile, []byte(tt.doc), 0o600))
			require.NoError(t, svc.Signal(syscall.SIGHUP))
			testkit.Eventually(t, 10*time.Second, func() bool {
				_, body := adminGet(t, admin, "/metrics")
				return strings.Contains(body, `jobstatus_config_reload_total{file="jwks",result="failure"} 1`)
			}, "the refused reload is counted")
			require.Equal(t, 200, status("mis-a"), "the last good keys keep verifying")
			claims := testkit.Claims("mis-a")
			claims["jti"] = domain.NewID().String() // a token not in the cache yet
			fresh := kit.Sign(kit.Header(), claims)
			require.NotEqual(t, 401, get(t, svc, "GET", jobPath(domain.NewID()), creds(fresh, "mis-a-key")).Status)
			_, body := adminGet(t, admin, "/metrics")
			require.Contains(t, body, "jobstatus_jwks_keys_skipped_total 0", "a refused set is not installed")
			code, ready := adminGet(t, admin, "/readyz")
			require.Equal(t, 200, code, ready)
			require.Contains(t, ready, "jwks: last reload at")
		})
	}
}

// TestNoSignalLosesALogLine: access-log lines written just before SIGTERM,
// SIGINT or SIGHUP are in the output (the log is buffered), and SIGHUP
// leaves the process running.
func TestNoSignalLosesALogLine(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	tests := []struct {
		name string
		sig  syscall.Signal
		ends bool
	}{
		{"SIGTERM", syscall.SIGTERM, true},
		{"SIGINT", syscall.SIGINT, true},
		{"SIGHUP", syscall.SIGHUP, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kit := testkit.New(t)
			svc := serve(t, authEnv(kit))
			var ids []string
			for i := range 20 {
				id := fmt.Sprintf("flush-%s-%d", tt.name, i)
				h := creds(kit.Token(testkit.ClientA), testkit.KeyA)
				h.Set("X-Request-ID", id)
				get(t, svc, "GET", jobPath(domain.NewID()), h)
				ids = append(ids, id)
			}
			if tt.ends {
				require.NoError(t, svc.StopWith(tt.sig, 30*time.Second), svc.Stderr.String())
			} else {
				require.NoError(t, svc.Signal(tt.sig))
				testkit.Eventually(t, 10*time.Second, func() bool { return strings.Contains(svc.Stderr.String(), ids[len(ids)-1]) },
					"the lines are written out")
				require.True(t, svc.Running(), "SIGHUP does not end the process")
			}
			out := svc.Stderr.String()
			for _, id := range ids {
				require.Contains(t, out, `"request_id":"`+id+`"`)
			}
		})
	}
}
