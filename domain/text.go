package domain

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// reasonText is why text a job carries was refused: PostgreSQL stores
// neither invalid UTF-8 nor NUL, and neither is ever meant.
const reasonText = "must be valid UTF-8 without NUL bytes"

// CheckText returns a *ValidationError naming field when s is not valid
// UTF-8 or holds a NUL byte. Every text a job carries (client id,
// idempotency key, failure message, link entity and href) passes it before
// any store sees it.
func CheckText(field, s string) error {
	if !storable(s) {
		return &ValidationError{Field: field, Reason: reasonText}
	}
	return nil
}

func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// Reasons a link is refused; the field is always "links".
const (
	reasonNoEntity   = "every link needs an entity"
	reasonEntity     = "every link entity must be a token (letters, digits and !#$%&'*+-.^_`|~)"
	reasonHref       = "every href must be an absolute path"
	reasonLinkText   = "every entity and href " + reasonText
	maxLinkPartBytes = 2048
)

// CheckLink applies the link rules: the entity is a non-empty token
// (RFC 9110 section 5.6.2) and the href an absolute path (see
// ValidHref). Done applies them to the links it takes; a store's reader
// to the links it reads, so that an href written by hand that breaks
// them is never handed to a client.
func CheckLink(l Link) error {
	if !storable(l.Entity) || !storable(l.Href) {
		return &ValidationError{Field: "links", Reason: reasonLinkText}
	}
	if strings.TrimSpace(l.Entity) == "" {
		return &ValidationError{Field: "links", Reason: reasonNoEntity}
	}
	if !isToken(l.Entity) || len(l.Entity) > maxLinkPartBytes {
		return &ValidationError{Field: "links", Reason: reasonEntity}
	}
	if !ValidHref(l.Href) {
		return &ValidationError{Field: "links", Reason: reasonHref}
	}
	return nil
}

// isToken reports whether s is an RFC 9110 token: 1*tchar.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// ValidHref reports whether href is a link the service may hand to every
// client: an RFC 3986 path-absolute (section 3.3) of at most 2048 bytes,
// with no query or fragment. It starts with exactly one "/" (so no
// authority, no scheme), holds only unreserved characters, sub-delims,
// ":", "@", "/" and well-formed percent-encodings, and has no "." or ".."
// segment. What the percent-encodings decode to must be valid UTF-8 with
// no control or format character (U+202E and the like) and no "/" or "\"
// (a client that decodes before resolving must not find an authority).
func ValidHref(href string) bool {
	if len(href) < 1 || len(href) > maxLinkPartBytes || href[0] != '/' || strings.HasPrefix(href, "//") {
		return false
	}
	decoded := make([]byte, 0, len(href))
	for i := 0; i < len(href); i++ {
		c := href[i]
		switch {
		case c == '%':
			if i+2 >= len(href) || !isHex(href[i+1]) || !isHex(href[i+2]) {
				return false
			}
			b := unhex(href[i+1])<<4 | unhex(href[i+2])
			if b == '/' || b == '\\' {
				return false
			}
			decoded = append(decoded, b)
			i += 2
		case isPathChar(c):
			decoded = append(decoded, c)
		default:
			return false
		}
	}
	if !utf8.Valid(decoded) {
		return false
	}
	for _, r := range string(decoded) {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	for _, seg := range strings.Split(string(decoded), "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// isPathChar reports whether c may appear unencoded in a path: pchar
// (unreserved, sub-delims, ":", "@") or "/" (RFC 3986 section 3.3).
func isPathChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
