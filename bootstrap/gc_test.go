package bootstrap

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTuneGC: serve sets DefaultGCPercent unless GOGC is set, and the
// docs say so with the same number. (Not parallel: the GC percent is
// the process's.)
func TestTuneGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })

	require.False(t, tuneGC([]string{"GOGC=50"}), "GOGC set: left to the runtime")
	require.Equal(t, 100, debug.SetGCPercent(100))

	require.True(t, tuneGC([]string{"PATH=/bin"}))
	require.Equal(t, DefaultGCPercent, debug.SetGCPercent(100))

	docs, err := filepath.Glob("../docs/*.md")
	require.NoError(t, err)
	stated := false
	for _, f := range append(docs, "../README.md") {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		stated = stated || strings.Contains(string(raw), "`GOGC` unset: "+strconv.Itoa(DefaultGCPercent))
	}
	require.True(t, stated, "the README or docs/ state the GC percent serve sets")
}
