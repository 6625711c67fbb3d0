//go:build unix

package jwtauth_test

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestJWKSFileMustBeARegularFile: a named pipe, a directory or a device at
// the JWKS file's path is a start error at once, never a read that waits.
func TestJWKSFileMustBeARegularFile(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "jwks.json")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	for path, want := range map[string]string{fifo: "named pipe", dir: "directory", "/dev/zero": "character device"} {
		cfg := kit.VerifierConfig()
		cfg.JWKSFile = path
		_, err := jwtauth.NewVerifier(cfg, nil)
		require.ErrorContains(t, err, want)
		require.ErrorContains(t, err, path)
	}
}
