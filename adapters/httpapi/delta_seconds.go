package httpapi

import (
	"math"
	"strconv"
	"strings"
)

// deltaSeconds reads a delta-seconds value (1*DIGIT, RFC 9111 section
// 1.2.2). A value too large to represent is the largest one
// (math.MaxInt), as that section requires, never "absent"; the caller caps
// it. ok is false for anything but digits: a sign, a space, a fraction or
// an exponent.
func deltaSeconds(s string) (n int, ok bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil { // only digits, so the one error is a value out of range
		return math.MaxInt, true
	}
	return v, true
}
