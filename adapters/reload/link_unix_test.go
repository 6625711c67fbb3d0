//go:build unix

package reload_test

import (
	"fmt"
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

// kubeMount lays out dir as the kubelet lays out a ConfigMap or Secret
// volume: keys.yaml -> ..data/keys.yaml, ..data -> a timestamped
// directory, holding content.
func kubeMount(t *testing.T, dir, stamp, content string) {
	t.Helper()
	real := filepath.Join(dir, stamp)
	require.NoError(t, os.Mkdir(real, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(real, "keys.yaml"), []byte(content), 0o600))
	tmp := filepath.Join(dir, "..data_tmp")
	require.NoError(t, os.Symlink(stamp, tmp))
	require.NoError(t, os.Rename(tmp, filepath.Join(dir, "..data")))
	if _, err := os.Lstat(filepath.Join(dir, "keys.yaml")); os.IsNotExist(err) {
		require.NoError(t, os.Symlink("..data/keys.yaml", filepath.Join(dir, "keys.yaml")))
	}
}

// TestReloadFollowsAKubernetesSwap: the kubelet's ..data swap is
// reloaded, each time, whether the path is in the volume, a link to it
// from another directory or a link into ..data, as docs/operations.md
// says; the old timestamped directory is removed as the kubelet removes
// it.
func TestReloadFollowsAKubernetesSwap(t *testing.T) {
	t.Parallel()
	for name, target := range map[string]string{"InTheVolume": "", "LinkedFromElsewhere": "keys.yaml", "LinkedIntoData": "..data/keys.yaml"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			mount := filepath.Join(root, "mount")
			require.NoError(t, os.Mkdir(mount, 0o700))
			kubeMount(t, mount, "..2026_01_01_1", "first")
			path := filepath.Join(mount, "keys.yaml")
			if target != "" {
				require.NoError(t, os.Mkdir(filepath.Join(root, "etc"), 0o700))
				path = filepath.Join(root, "etc", "keys.yaml")
				require.NoError(t, os.Symlink(filepath.Join(mount, target), path))
			}
			_, b := watch(t, path)
			for i, content := range []string{"second", "third"} {
				kubeMount(t, mount, fmt.Sprintf("..2026_01_01_%d", i+2), content)
				require.NoError(t, os.RemoveAll(filepath.Join(mount, fmt.Sprintf("..2026_01_01_%d", i+1))))
				b.eventually(t, content, "a ..data swap")
			}
		})
	}
}
