package ratelimit_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/ratelimit"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(ratelimit.Limit{RPS: 1, Burst: 3}, map[string]ratelimit.Limit{
		"big":       {RPS: 1, Burst: 10},
		"unlimited": ratelimit.Unlimited,
	})
	require.NoError(t, err)
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

func TestUnlimitedDefault(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(ratelimit.Unlimited, nil)
	require.NoError(t, err)
	for range 1000 {
		ok, _ := l.Allow("mis-alpha")
		require.True(t, ok)
	}
}

// TestNewRefusesInvalidLimits: the limiter has no defaults of its own, so
// a zero value is a mistake, not "no limit" and not "burst 1".
func TestNewRefusesInvalidLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		def     ratelimit.Limit
		clients map[string]ratelimit.Limit
		want    string
	}{
		{"ZeroValue", ratelimit.Limit{}, nil, "ratelimit: default: rps must be positive (or the limit Unlimited), got 0"},
		{"NegativeRate", ratelimit.Limit{RPS: -1, Burst: 1}, nil, "ratelimit: default: rps must be positive (or the limit Unlimited), got -1"},
		{"NaNRate", ratelimit.Limit{RPS: math.NaN(), Burst: 1}, nil, "ratelimit: default: rps must be positive (or the limit Unlimited), got NaN"},
		{"InfiniteRateWithBurst", ratelimit.Limit{RPS: math.Inf(1), Burst: 5}, nil, "ratelimit: default: rps must be positive (or the limit Unlimited), got +Inf"},
		{"ZeroBurst", ratelimit.Limit{RPS: 10}, nil, "ratelimit: default: burst must be at least 1, got 0"},
		{"NegativeBurst", ratelimit.Limit{RPS: 10, Burst: -2}, nil, "ratelimit: default: burst must be at least 1, got -2"},
		{"ClientZeroBurst", ratelimit.Limit{RPS: 10, Burst: 1}, map[string]ratelimit.Limit{"mis-a": {RPS: 5}},
			`ratelimit: client "mis-a": burst must be at least 1, got 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ratelimit.New(tt.def, tt.clients)
			require.EqualError(t, err, tt.want)
		})
	}
}
