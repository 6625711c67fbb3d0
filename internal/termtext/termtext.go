// Package termtext makes text that others wrote safe to print on a
// terminal: a failure message a worker stored, an error message a server
// sent. Printed raw, their control characters are instructions to the
// terminal (ESC [ 2 J clears the screen, ESC ] 52 writes the clipboard,
// U+202E turns the line around), not text.
package termtext

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape returns s with every rune that is neither graphic nor a plain
// space written as a Go escape (\x1b, \n, \u202e), and every invalid UTF-8
// byte as \xNN; text without such runes is returned as it is.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteString(`\x` + strconv.FormatUint(uint64(s[i]), 16))
		case r == ' ' || unicode.IsGraphic(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\n', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

func needsEscape(s string) bool {
	for _, r := range s {
		if r != ' ' && !unicode.IsGraphic(r) || r == utf8.RuneError {
			return true
		}
	}
	return false
}
