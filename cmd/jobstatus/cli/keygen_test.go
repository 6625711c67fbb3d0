package cli_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/cmd/jobstatus/cli"
)

// TestTokenAndKeygenCommands: keygen makes a key that token signs with.
func TestTokenAndKeygenCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := cli.Execute(context.Background(), []string{"keygen", "--key-out", dir + "/k.pem", "--jwks-out", dir + "/jwks.json"},
		cli.IO{Stdout: &out, Stderr: &errOut})
	require.Equal(t, 0, code, errOut.String())

	out.Reset()
	code = cli.Execute(context.Background(), []string{"token", "--key", dir + "/k.pem", "--client", "mis-alpha", "--ttl", "5m"},
		cli.IO{Stdout: &out, Stderr: &errOut, Environ: []string{"JOBSTATUS_AUTH_ISSUER=i", "JOBSTATUS_AUTH_AUDIENCE=a"}})
	require.Equal(t, 0, code, errOut.String())
	token := strings.TrimSpace(out.String())
	require.Len(t, strings.Split(token, "."), 3)

	errOut.Reset()
	code = cli.Execute(context.Background(), []string{"token", "--key", dir + "/k.pem"}, cli.IO{Stdout: io.Discard, Stderr: &errOut})
	require.Equal(t, 2, code, "a missing flag is a usage error")
	require.Contains(t, errOut.String(), "client")

	code = cli.Execute(context.Background(), []string{"token", "--key", dir + "/k.pem", "--client", "c"}, cli.IO{Stdout: io.Discard, Stderr: &errOut})
	require.Equal(t, 2, code, "issuer and audience are required")
}

// TestKeygenNeverReplacesAFile: keygen writes two new files or none. A
// second run with the same paths once replaced the key in use (and its
// JWK Set) and exited 0; an existing path is now refused, exit 2, and
// nothing is written or left behind.
func TestKeygenNeverReplacesAFile(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T) (dir, key, jwks string) {
		t.Helper()
		dir = t.TempDir()
		return dir, filepath.Join(dir, "key.pem"), filepath.Join(dir, "jwks.json")
	}
	keygen := func(key, jwks string) cliResult {
		return execute(t, nil, "keygen", "--key-out", key, "--jwks-out", jwks)
	}

	t.Run("SecondRunKeepsTheFirstKey", func(t *testing.T) {
		t.Parallel()
		_, key, jwks := setup(t)
		require.Equal(t, 0, keygen(key, jwks).code)
		info, err := os.Stat(key)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
		firstKey, firstJWKS := read(t, key), read(t, jwks)

		r := keygen(key, jwks)
		require.Equal(t, 2, r.code, r.stderr)
		require.Equal(t, fmt.Sprintf("jobstatus: --key-out %q exists already: keygen never replaces a file; remove it or name a new one\n", key), r.stderr)
		require.Empty(t, r.stdout)
		require.Equal(t, firstKey, read(t, key))
		require.Equal(t, firstJWKS, read(t, jwks))
	})
	t.Run("ExistingJWKSLeavesNoKey", func(t *testing.T) {
		t.Parallel()
		_, key, jwks := setup(t)
		require.NoError(t, os.WriteFile(jwks, []byte(`{"keys":[]}`), 0o644))
		r := keygen(key, jwks)
		require.Equal(t, 2, r.code, r.stderr)
		require.Equal(t, fmt.Sprintf("jobstatus: --jwks-out %q exists already: keygen never replaces a file; remove it or name a new one\n", jwks), r.stderr)
		require.NoFileExists(t, key, "a key without its JWK Set is not left behind")
		require.Equal(t, `{"keys":[]}`, read(t, jwks))
	})
	t.Run("DanglingLinkIsNotFollowed", func(t *testing.T) {
		t.Parallel()
		dir, key, jwks := setup(t)
		target := filepath.Join(dir, "elsewhere.pem")
		require.NoError(t, os.Symlink(target, key))
		r := keygen(key, jwks)
		require.Equal(t, 2, r.code, r.stderr)
		require.NoFileExists(t, target)
		require.NoFileExists(t, jwks)
	})
	t.Run("UnwritableJWKSLeavesNoKey", func(t *testing.T) {
		t.Parallel()
		dir, key, _ := setup(t)
		jwks := filepath.Join(dir, "missing", "jwks.json")
		r := keygen(key, jwks)
		require.Equal(t, 1, r.code, "a file that cannot be made is a failure, not a mistake on the line: %s", r.stderr)
		require.Equal(t, "jobstatus: --jwks-out: open "+jwks+": no such file or directory\n", r.stderr)
		require.NoFileExists(t, key)
	})
}

// read returns the content of path.
func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// TestTokenClaimsAreWhatWasTyped: the scope claim is --scope as typed, and
// a key whose algorithm the allow-list refuses mints nothing (the token
// was once minted, and every request with it refused).
func TestTokenClaimsAreWhatWasTyped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "key.pem")
	r := execute(t, nil, "keygen", "--alg", "RS256", "--key-out", key, "--jwks-out", filepath.Join(dir, "jwks.json"))
	require.Equal(t, 0, r.code, r.stderr)
	env := []string{"JOBSTATUS_AUTH_ISSUER=https://auth.example", "JOBSTATUS_AUTH_AUDIENCE=jobstatus"}

	t.Run("ScopeAsTyped", func(t *testing.T) {
		t.Parallel()
		r := execute(t, env, "token", "--key", key, "--client", "worker-sign", "--scope", "composition:read composition_job:write")
		require.Equal(t, 0, r.code, r.stderr)
		parts := strings.Split(strings.TrimSpace(r.stdout), ".")
		require.Len(t, parts, 3)
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		require.NoError(t, err)
		var claims struct {
			Scope string `json:"scope"`
			Sub   string `json:"sub"`
		}
		require.NoError(t, json.Unmarshal(payload, &claims))
		require.Equal(t, "composition:read composition_job:write", claims.Scope)
		require.Equal(t, "dev-user", claims.Sub)
	})
	t.Run("AlgorithmNotAllowed", func(t *testing.T) {
		t.Parallel()
		r := execute(t, append(env, "JOBSTATUS_AUTH_ALGORITHMS=ES256,EdDSA"), "token", "--key", key, "--client", "mis-alpha")
		require.Equal(t, 1, r.code, "a setting the key does not fit: %s", r.stderr)
		require.Equal(t, "jobstatus: configuration: JOBSTATUS_AUTH_ALGORITHMS (auth.algorithms) allows ES256, EdDSA, not RS256, which key "+
			key+" signs with: the service would refuse the token\n", r.stderr)
		require.Empty(t, r.stdout)
	})
	t.Run("KeyTheServiceRefuses", func(t *testing.T) {
		t.Parallel()
		small, err := rsa.GenerateKey(rand.Reader, 1024)
		require.NoError(t, err)
		pemBytes, err := jwtauth.EncodePrivateKey(small)
		require.NoError(t, err)
		smallFile := filepath.Join(dir, "small.pem")
		require.NoError(t, os.WriteFile(smallFile, pemBytes, 0o600))
		r := execute(t, env, "token", "--key", smallFile, "--client", "mis-alpha")
		require.Equal(t, 1, r.code, "a key the key set would refuse: %s", r.stderr)
		require.Equal(t, "jobstatus: key "+smallFile+": RSA key is 1024 bits; between 2048 and 16384 are used (RFC 7518 section 3.3): the service would refuse the token\n", r.stderr)
		require.Empty(t, r.stdout)
	})
}
