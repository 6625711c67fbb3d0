package bootstrap

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTuneGC: serve sets DefaultGCPercent unless GOGC is set, and the
// README says so with the same number. (Not parallel: the GC percent is
// the process's.)
func TestTuneGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })

	require.False(t, tuneGC([]string{"GOGC=50"}), "GOGC set: left to the runtime")
	require.Equal(t, 100, debug.SetGCPercent(100))

	require.True(t, tuneGC([]string{"PATH=/bin"}))
	require.Equal(t, DefaultGCPercent, debug.SetGCPercent(100))

	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	require.True(t, strings.Contains(string(readme), "`GOGC` unset: "+strconv.Itoa(DefaultGCPercent)),
		"the README states the GC percent serve sets")
}
