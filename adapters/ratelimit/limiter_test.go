package ratelimit_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/ratelimit"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	l := ratelimit.New(ratelimit.Limit{RPS: 1, Burst: 3}, map[string]ratelimit.Limit{
		"big":       {RPS: 1, Burst: 10},
		"unlimited": {RPS: 0},
	})
	count := func(client string, n int) (allowed int, lastWait time.Duration) {
		for range n {
			ok, wait := l.Allow(client)
			if ok {
				allowed++
			} else {
				lastWait = wait
			}
		}
		return allowed, lastWait
	}
	got, wait := count("mis-alpha", 20)
	require.Equal(t, 3, got, "the default burst")
	require.Greater(t, wait, time.Duration(0))
	require.LessOrEqual(t, wait, time.Second)

	got, _ = count("mis-beta", 20)
	require.Equal(t, 3, got, "each client has its own bucket")
	got, _ = count("big", 20)
	require.Equal(t, 10, got, "a per-client override")
	got, _ = count("unlimited", 1000)
	require.Equal(t, 1000, got)
}
