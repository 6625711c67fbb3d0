package bootstrap

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEveryVariableThatDoesNotParseIsNamed: for every setting with a
// variable and no empty value (numbers, durations, booleans), a value that
// does not parse, an empty one included, is refused naming the variable
// and its YAML key, as docs/configuration.md says. The int64 and bool
// settings (JOBSTATUS_CACHE_JOBS_BYTES, JOBSTATUS_AUTH_REQUIRE_AT_JWT_TYP)
// got the library's message naming the Go field instead ("parse error on
// field \"JobsBytes\" of type \"int64\""), and their empty value was read
// as unset: the default stayed, silently.
func TestEveryVariableThatDoesNotParseIsNamed(t *testing.T) {
	t.Parallel()
	checked := 0
	for _, s := range settingsOf(&Config{}) {
		if s.env == "" || clearable(s.value) {
			continue
		}
		checked++
		for _, raw := range []string{"bogus", ""} {
			t.Run(s.env+"="+raw, func(t *testing.T) {
				t.Parallel()
				_, err := LoadConfig([]string{s.env + "=" + raw})
				require.EqualError(t, err, name(s.yaml)+`: "`+raw+`" is not `+kindName(s.value.Type()))
			})
		}
	}
	require.Greater(t, checked, 30, "the walk found the settings")
}

// TestVariablesOfEveryKindParse: a valid value of each kind is taken.
func TestVariablesOfEveryKindParse(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig([]string{"JOBSTATUS_CACHE_JOBS_BYTES=1048576", "JOBSTATUS_AUTH_REQUIRE_AT_JWT_TYP=true",
		"JOBSTATUS_CACHE_JOBS=7", "JOBSTATUS_ETA_PERCENTILE=0.5", "JOBSTATUS_AUTH_LEEWAY=5s"})
	require.NoError(t, err)
	require.Equal(t, int64(1<<20), cfg.Cache.JobsBytes)
	require.True(t, cfg.Auth.RequireATJWTType)
	require.Equal(t, 7, cfg.Cache.Jobs)
	require.InDelta(t, 0.5, cfg.ETA.Percentile, 0)
	require.Equal(t, "5s", cfg.Auth.Leeway.String())
}

// TestIntVariablesTakeWhatTheFileTakes: an int setting beyond 32 bits,
// which the config file takes, passed the check and was then refused by
// the library with a message naming the Go field ("parse error on field
// \"Jobs\" of type \"int\"").
func TestIntVariablesTakeWhatTheFileTakes(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig([]string{"JOBSTATUS_CACHE_JOBS=3000000000"})
	require.NoError(t, err)
	require.Equal(t, 3000000000, cfg.Cache.Jobs)
}
