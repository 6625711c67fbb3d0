// Package jsontext checks JSON text for what encoding/json silently
// replaces: invalid UTF-8 and escaped lone surrogates. Tokens and write
// API bodies are refused for them rather than read with U+FFFD in place.
package jsontext

import (
	"strconv"
	"unicode/utf8"
)

// Valid reports whether data, JSON text or a run of its tokens that holds
// whole strings, is valid UTF-8 and escapes no lone UTF-16 surrogate:
// encoding/json would replace either with U+FFFD and carry on (RFC 8259
// section 8.2; RFC 7515 section 5.2, RFC 7519 section 7.2).
func Valid(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	inString, pendingHigh := false, false
	for i := 0; i < len(data); i++ {
		b := data[i]
		if !inString {
			inString = b == '"'
			continue
		}
		switch {
		case b == '"':
			if pendingHigh {
				return false
			}
			inString = false
		case b == '\\' && i+1 < len(data):
			i++
			if data[i] != 'u' || i+4 >= len(data) {
				if pendingHigh {
					return false
				}
				continue
			}
			r, err := strconv.ParseUint(string(data[i+1:i+5]), 16, 16)
			i += 4
			if err != nil {
				return false // encoding/json refuses it too
			}
			switch {
			case r >= 0xD800 && r < 0xDC00:
				if pendingHigh {
					return false
				}
				pendingHigh = true
			case r >= 0xDC00 && r < 0xE000:
				if !pendingHigh {
					return false
				}
				pendingHigh = false
			default:
				if pendingHigh {
					return false
				}
			}
		default:
			if pendingHigh {
				return false
			}
		}
	}
	return !pendingHigh
}
