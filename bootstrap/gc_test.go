package bootstrap

import (
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestTuneMemory: serve sets DefaultGCPercent unless GOGC is set, and a
// soft memory limit of MemoryLimitRatio of the container's limit unless
// GOMEMLIMIT is set; docs/operations.md states both numbers. (Not
// parallel: the GC target and the memory limit are the process's.)
func TestTuneMemory(t *testing.T) {
	oldGC, oldLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(oldGC); debug.SetMemoryLimit(oldLimit) })
	// setup puts the runtime as it starts: GOGC and GOMEMLIMIT, when the
	// environment sets them, are the runtime's before serve runs.
	setup := func(t *testing.T, gogc int, goMemLimit int64) {
		t.Helper()
		debug.SetGCPercent(gogc)
		debug.SetMemoryLimit(goMemLimit)
	}
	const container = 256 << 20
	noLimit := func() (uint64, error) { return 0, memlimit.ErrNoLimit }

	t.Run("DefaultsWithoutAContainerLimit", func(t *testing.T) {
		setup(t, 100, math.MaxInt64)
		s := tuneMemory([]string{"PATH=/bin"}, noLimit)
		require.Equal(t, memorySettings{GCPercent: DefaultGCPercent, GCSource: "default", Limit: math.MaxInt64, LimitSource: "none"}, s)
		require.Equal(t, DefaultGCPercent, debug.SetGCPercent(-1))
	})
	t.Run("SetsTheSoftLimitFromTheContainers", func(t *testing.T) {
		setup(t, 100, math.MaxInt64)
		s := tuneMemory(nil, memlimit.Limit(container))
		ratio := MemoryLimitRatio
		want := int64(float64(container) * ratio)
		require.Equal(t, memorySettings{GCPercent: DefaultGCPercent, GCSource: "default", Limit: want, LimitSource: "cgroup", Container: container}, s)
		require.Equal(t, want, debug.SetMemoryLimit(-1))
	})
	t.Run("GOGCWins", func(t *testing.T) {
		setup(t, 50, math.MaxInt64)
		s := tuneMemory([]string{"GOGC=50"}, memlimit.Limit(container))
		require.Equal(t, 50, s.GCPercent)
		require.Equal(t, "GOGC", s.GCSource)
		require.Equal(t, 50, debug.SetGCPercent(-1))
		require.Equal(t, "cgroup", s.LimitSource, "the limit still applies")
	})
	t.Run("GOMEMLIMITWins", func(t *testing.T) {
		setup(t, 100, 100<<20)
		s := tuneMemory([]string{"GOMEMLIMIT=100MiB"}, memlimit.Limit(container))
		require.Equal(t, memorySettings{GCPercent: DefaultGCPercent, GCSource: "default", Limit: 100 << 20, LimitSource: "GOMEMLIMIT", Container: container}, s)
		require.Equal(t, int64(100<<20), debug.SetMemoryLimit(-1))
	})
	t.Run("UnreadableCgroupSetsNoLimit", func(t *testing.T) {
		setup(t, 100, math.MaxInt64)
		broken := errors.New("open /sys/fs/cgroup/memory.max: permission denied")
		s := tuneMemory(nil, func() (uint64, error) { return 0, broken })
		require.Equal(t, "none", s.LimitSource)
		require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1))
		require.ErrorIs(t, s.Err, broken)
	})
	t.Run("LogsTheChoiceAtStart", func(t *testing.T) {
		core, logs := observer.New(zapcore.InfoLevel)
		memorySettings{GCPercent: 100, GCSource: "default", Limit: 214748364, LimitSource: "cgroup", Container: container}.log(zap.New(core))
		require.Equal(t, 1, logs.Len())
		got := logs.All()[0].ContextMap()
		require.Equal(t, map[string]any{"limit_source": "cgroup", "gogc": int64(100), "gogc_source": "default",
			"go_memory_limit_bytes": int64(214748364), "container_limit_bytes": uint64(container)}, got)
	})
	t.Run("OperationsDocStatesTheNumbers", func(t *testing.T) {
		doc, err := os.ReadFile("../docs/operations.md")
		require.NoError(t, err)
		for _, want := range []string{
			fmt.Sprintf("`GOGC` unset: %d", DefaultGCPercent),
			fmt.Sprintf("%d %% of the container's memory limit", int(MemoryLimitRatio*100)),
		} {
			require.True(t, strings.Contains(string(doc), want), "docs/operations.md states %q", want)
		}
	})
	t.Run("OperationsDocQuotesTheDefaults", func(t *testing.T) {
		doc, err := os.ReadFile("../docs/operations.md")
		require.NoError(t, err)
		defaults := map[string]string{}
		cfg := DefaultConfig()
		for _, s := range settingsOf(&cfg) {
			defaults[s.env] = formatValue(s.value)
		}
		quoted := regexp.MustCompile("`(JOBSTATUS_[A-Z_]+)` = ([^ ,|]+)").FindAllStringSubmatch(string(doc), -1)
		require.GreaterOrEqual(t, len(quoted), 5, "the memory budget quotes the bounds' defaults")
		for _, q := range quoted {
			require.Equal(t, defaults[q[1]], q[2], "docs/operations.md quotes the default of %s", q[1])
		}
	})
}
