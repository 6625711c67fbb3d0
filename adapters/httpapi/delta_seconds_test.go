package httpapi

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPreferredWaitTooLargeIsLargest: a wait too large to represent is the
// largest wait (then capped), never "no wait" (issue 10 item 13); only
// delta-seconds digits are read.
func TestPreferredWaitTooLargeIsLargest(t *testing.T) {
	t.Parallel()
	const most = 3600 * time.Second
	tests := []struct {
		prefer string
		want   time.Duration
	}{
		{"wait=99999999999999999999", most},
		{"wait=9223372036854775808", most},  // 2^63
		{"wait=18446744073709551616", most}, // 2^64
		{"wait=1" + strings.Repeat("9", 60), most},
		{`wait="99999999999999999999"`, most},
		{"respond-async, wait=99999999999999999999", most},
		{"wait=99999999999999999999; x=y", most},
		{"wait=9223372036854775807", most},
		{"wait=3601", most},
		{"wait=3600", most},
		{"wait=0000000000000000000000000005", 5 * time.Second},
		{"wait=20", 20 * time.Second},
		{"wait=0", 0},
		{"wait=-1", 0},
		{"wait=-99999999999999999999", 0},
		{"wait=+5", 0},
		{"wait=5.5", 0},
		{"wait=1e3", 0},
		{"wait=0x10", 0},
		{"wait=", 0},
		{"wait=soon", 0},
		{"wait=5 5", 0},
	}
	for _, tt := range tests {
		t.Run(tt.prefer, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, preferredWait([]string{tt.prefer}))
		})
	}
}
