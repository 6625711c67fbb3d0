package client

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRetryAfterIsDeltaSecondsOrADate: Retry-After is digits only or an
// HTTP date (RFC 9110 section 10.2.3); a number too large to represent is
// the longest wait; anything else is no hint.
func TestRetryAfterIsDeltaSecondsOrADate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"3", 3 * time.Second},
		{"003", 3 * time.Second},
		{" 3 ", 3 * time.Second}, // surrounding whitespace is not part of a field value
		{"0", 0},
		{"99999999999999999999", math.MaxInt32 * time.Second},
		{"Mon, 07 Dec 2026 12:00:10 GMT", 10 * time.Second},
		{"+3", 0},
		{"-3", 0},
		{"-0", 0},
		{"0x10", 0},
		{"1e2", 0},
		{"3.5", 0},
		{"1_0", 0},
		{"\u0663", 0},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, retryAfter(http.Header{"Retry-After": {tt.value}}, now))
		})
	}
}

// TestSSERetryIsDigitsOnly: a retry: field that is not ASCII digits is
// ignored (the Server-Sent Events standard), so a sign never makes a
// negative or surprising reconnection delay.
func TestSSERetryIsDigitsOnly(t *testing.T) {
	t.Parallel()
	for value, want := range map[string]time.Duration{"1500": 1500 * time.Millisecond, "0": 0, "007": 7 * time.Millisecond} {
		d, ok := sseRetry(value)
		require.True(t, ok, value)
		require.Equal(t, want, d, value)
	}
	for _, value := range []string{"", "+5", "-5", "-0", " 5", "5 ", "0x10", "1e3", "1.5", "1_0", "\u0663", "99999999999999999999", "9223372036854775807"} {
		_, ok := sseRetry(value)
		require.False(t, ok, "%q", value)
	}
}
