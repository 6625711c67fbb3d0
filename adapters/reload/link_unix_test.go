//go:build unix

package reload_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReloadFollowsALinkIntoAnotherDirectory: a path that is a symbolic
// link to a file in another directory is edited there; only its own
// directory was watched, so the edit was not reloaded until a SIGHUP. The
// link is followed again after each reload: once it names a file in a
// third directory, edits there are reloaded too.
func TestReloadFollowsALinkIntoAnotherDirectory(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, d := range []string{"etc", "secrets", "next"} {
		require.NoError(t, os.Mkdir(filepath.Join(root, d), 0o700))
	}
	target := filepath.Join(root, "secrets", "keys.yaml")
	require.NoError(t, os.WriteFile(target, []byte("first"), 0o600))
	path := filepath.Join(root, "etc", "keys.yaml")
	require.NoError(t, os.Symlink("../secrets/keys.yaml", path))
	_, b := watch(t, path)

	require.NoError(t, os.WriteFile(target, []byte("second"), 0o600))
	b.eventually(t, "second", "an edit of the file the link names")

	next := filepath.Join(root, "next", "keys.yaml")
	require.NoError(t, os.WriteFile(next, []byte("third"), 0o600))
	tmp := path + ".tmp"
	require.NoError(t, os.Symlink(next, tmp))
	require.NoError(t, os.Rename(tmp, path))
	b.eventually(t, "third", "the link moved to another file")
	require.NoError(t, os.WriteFile(next, []byte("fourth"), 0o600))
	b.eventually(t, "fourth", "an edit of the file the moved link names")
}
