//go:build unix

package apikey_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/apikey"
)

// TestLoadRefusesWhatIsNotARegularFile: a named pipe or a directory at the
// clients file's path is an error at once, never a read that waits.
func TestLoadRefusesWhatIsNotARegularFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "clients.yaml")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	for path, want := range map[string]string{fifo: "named pipe", dir: "directory", "/dev/zero": "character device"} {
		_, err := apikey.Load(path)
		require.ErrorContains(t, err, want)
		require.ErrorContains(t, err, path)
	}
	large := filepath.Join(dir, "large.yaml")
	require.NoError(t, os.WriteFile(large, make([]byte, apikey.MaxFileSize+1), 0o600))
	_, err := apikey.Load(large)
	require.ErrorContains(t, err, "too large")
}
