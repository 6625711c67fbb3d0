package domain

import (
	"crypto/rand"
	"encoding/hex"
)

// ID is a job identifier: a UUID in canonical, lower-case, hyphenated form.
type ID string

// idLen is the length of the canonical textual UUID form (8-4-4-4-12).
const idLen = 36

// ParseID accepts exactly the canonical 36-character hyphenated UUID form,
// in any letter case, and returns it lower-cased. Braced, URN and 32-digit
// forms are rejected so that every job has exactly one spelling.
// The result is always a copy: s may be a slice of a whole request line,
// and an id is kept (a cache key) long after the request.
func ParseID(s string) (ID, error) {
	if len(s) != idLen {
		return "", &ValidationError{Field: "id", Reason: "must be a UUID"}
	}
	var b [idLen]byte
	for i := 0; i < idLen; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", &ValidationError{Field: "id", Reason: "must be a UUID"}
			}
		default:
			switch {
			case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
			case c >= 'A' && c <= 'F':
				c += 'a' - 'A'
			default:
				return "", &ValidationError{Field: "id", Reason: "must be a UUID"}
			}
		}
		b[i] = c
	}
	return ID(b[:]), nil
}

// NewID returns a random (version 4) ID, from crypto/rand: a job's id is
// not to be guessed.
func NewID() ID {
	var u [16]byte
	// crypto/rand.Read never returns an error on supported platforms.
	_, _ = rand.Read(u[:])
	return IDFromBits(u)
}

// IDFromBits returns the version 4 ID of 128 random bits (RFC 9562: the
// version and variant bits are set over six of them).
func IDFromBits(u [16]byte) ID {
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var b [idLen]byte
	hex.Encode(b[0:8], u[0:4])
	hex.Encode(b[9:13], u[4:6])
	hex.Encode(b[14:18], u[6:8])
	hex.Encode(b[19:23], u[8:10])
	hex.Encode(b[24:36], u[10:16])
	b[8], b[13], b[18], b[23] = '-', '-', '-', '-'
	return ID(b[:])
}

// String returns the canonical form.
func (id ID) String() string { return string(id) }
