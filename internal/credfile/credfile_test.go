//go:build unix

package credfile_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/internal/credfile"
)

// TestReadRefusesWhatIsNotARegularFile: whatever sits at the path, Read
// answers at once; only a regular file within the limit is read.
func TestReadRefusesWhatIsNotARegularFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	require.NoError(t, os.WriteFile(path("good"), []byte("clients: []\n"), 0o600))
	require.NoError(t, os.WriteFile(path("large"), make([]byte, 2048), 0o600))
	require.NoError(t, syscall.Mkfifo(path("fifo"), 0o600))
	require.NoError(t, syscall.Mkfifo(path("fifo-with-writer"), 0o600))
	// A writer that never writes: a blocking open would succeed and the
	// read then wait for ever.
	w, err := os.OpenFile(path("fifo-with-writer"), os.O_RDWR, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	require.NoError(t, os.Symlink(path("fifo"), path("link-to-fifo")))
	require.NoError(t, os.Symlink(path("good"), path("link-to-good")))
	require.NoError(t, os.Mkdir(path("dir"), 0o700))
	sock, err := net.Listen("unix", path("socket"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sock.Close() })

	tests := []struct {
		name, path string
		want       error // nil: read
	}{
		{"RegularFile", path("good"), nil},
		{"SymlinkToARegularFile", path("link-to-good"), nil},
		{"NamedPipe", path("fifo"), credfile.ErrNotRegular},
		{"NamedPipeWithAWriter", path("fifo-with-writer"), credfile.ErrNotRegular},
		{"SymlinkToANamedPipe", path("link-to-fifo"), credfile.ErrNotRegular},
		{"Directory", path("dir"), credfile.ErrNotRegular},
		{"CharacterDeviceEndless", "/dev/zero", credfile.ErrNotRegular},
		{"CharacterDeviceEmpty", "/dev/null", credfile.ErrNotRegular},
		{"Socket", path("socket"), syscall.ENXIO},
		{"Missing", path("missing"), os.ErrNotExist},
		{"LargerThanTheLimit", path("large"), credfile.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := credfile.Read(context.Background(), tt.path, 1024)
			if tt.want == nil {
				require.NoError(t, err)
				require.Equal(t, "clients: []\n", string(data))
				return
			}
			require.True(t, errors.Is(err, tt.want), "got %v", err)
			require.Contains(t, err.Error(), tt.path, "the error names the path")
		})
	}
}
