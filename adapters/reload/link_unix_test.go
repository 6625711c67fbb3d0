//go:build unix

package reload_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

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

// TestReloadFollowsALinkedDirectoryRemovedAndMadeAgain: the directory a
// link leads into is removed and made again (a deploy that replaces it
// with rm -rf and a copy). Its watch went with it, and nothing watched
// where it came back: the new file was never reloaded.
func TestReloadFollowsALinkedDirectoryRemovedAndMadeAgain(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, d := range []string{"etc", "secrets"} {
		require.NoError(t, os.Mkdir(filepath.Join(root, d), 0o700))
	}
	secrets := filepath.Join(root, "secrets")
	require.NoError(t, os.WriteFile(filepath.Join(secrets, "keys.yaml"), []byte("first"), 0o600))
	path := filepath.Join(root, "etc", "keys.yaml")
	require.NoError(t, os.Symlink("../secrets/keys.yaml", path))
	_, b := watch(t, path)

	require.NoError(t, os.RemoveAll(secrets))
	time.Sleep(time.Second) // the removal is seen and reloaded (nothing to read)
	require.NoError(t, os.Mkdir(secrets, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(secrets, "keys.yaml"), []byte("second"), 0o600))
	b.eventually(t, "second", "a file in the linked directory made again")
}

// TestReloadFollowsADirectoryLinkSwap: the file is reached through a link
// to a directory that a deploy swaps (current -> releases/v1, then
// releases/v2, as Kubernetes swaps ..data). The swap happens in the
// directory holding that link, which was not watched: it was never
// reloaded.
func TestReloadFollowsADirectoryLinkSwap(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, d := range []string{"etc", "releases/v1", "releases/v2"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o700))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "releases/v1/keys.yaml"), []byte("first"), 0o600))
	require.NoError(t, os.Symlink("releases/v1", filepath.Join(root, "current")))
	path := filepath.Join(root, "etc", "keys.yaml")
	require.NoError(t, os.Symlink("../current/keys.yaml", path))
	_, b := watch(t, path)

	require.NoError(t, os.WriteFile(filepath.Join(root, "releases/v2/keys.yaml"), []byte("second"), 0o600))
	tmp := filepath.Join(root, "current.tmp")
	require.NoError(t, os.Symlink("releases/v2", tmp))
	require.NoError(t, os.Rename(tmp, filepath.Join(root, "current")))
	b.eventually(t, "second", "the directory link swapped")
	require.NoError(t, os.WriteFile(filepath.Join(root, "releases/v2/keys.yaml"), []byte("third"), 0o600))
	b.eventually(t, "third", "an edit in the directory the link now names")
}

// TestReloadThroughALinkLoop: a path that is a link loop is followed no
// further than the loop (Start returns), and once a file is put in its
// place it is reloaded.
func TestReloadThroughALinkLoop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.yaml")
	require.NoError(t, os.Symlink("a", path))
	require.NoError(t, os.Symlink("b", filepath.Join(dir, "a")))
	require.NoError(t, os.Symlink("a", filepath.Join(dir, "b")))
	_, b := watch(t, path)
	require.NoError(t, os.Remove(filepath.Join(dir, "b")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b"), []byte("second"), 0o600))
	b.eventually(t, "second", "the loop broken by a file")
}
