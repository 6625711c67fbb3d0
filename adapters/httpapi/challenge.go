package httpapi

import (
	nethttp "net/http"
	"strings"
)

// bearerChallenge is the WWW-Authenticate value of a 401 (RFC 6750
// section 3.1). error="invalid_token" is named only when a token was read
// and judged bad; a request that brought no Bearer credentials (no
// Authorization header, another scheme) or was refused for its api-key
// gets the bare challenge, with no error code; an Authorization header
// that is repeated or breaks the Bearer syntax is error="invalid_request".
func bearerChallenge(r *nethttp.Request, apiKeyRefused bool) string {
	const bare = "Bearer"
	if apiKeyRefused {
		return bare
	}
	auths := r.Header.Values("Authorization")
	switch {
	case len(auths) == 0:
		return bare
	case len(auths) > 1:
		return `Bearer error="invalid_request"`
	}
	if _, ok := bearer(auths[0]); ok {
		return `Bearer error="invalid_token"`
	}
	if !bearerScheme(auths[0]) {
		return bare
	}
	return `Bearer error="invalid_request"`
}

// bearerScheme reports whether v names the Bearer scheme (any case),
// whatever follows it.
func bearerScheme(v string) bool {
	const scheme = "bearer"
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return false
	}
	return len(v) == len(scheme) || v[len(scheme)] == ' ' || v[len(scheme)] == '\t'
}
