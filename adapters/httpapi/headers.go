package httpapi

import nethttp "net/http"

// The request headers every poll reads, by their canonical keys. net/http
// canonicalizes the keys it receives, so indexing the map with these is
// what Header.Get and Header.Values do, without canonicalizing a constant
// on every request.
var (
	hdrAPIKey            = nethttp.CanonicalHeaderKey("api-key")
	hdrAuthorization     = nethttp.CanonicalHeaderKey("Authorization")
	hdrPrefer            = nethttp.CanonicalHeaderKey("Prefer")
	hdrRequestID         = nethttp.CanonicalHeaderKey("X-Request-ID")
	hdrUserAgent         = nethttp.CanonicalHeaderKey("User-Agent")
	hdrIfMatch           = nethttp.CanonicalHeaderKey("If-Match")
	hdrIfNoneMatch       = nethttp.CanonicalHeaderKey("If-None-Match")
	hdrIfModifiedSince   = nethttp.CanonicalHeaderKey("If-Modified-Since")
	hdrIfUnmodifiedSince = nethttp.CanonicalHeaderKey("If-Unmodified-Since")
)

// first is a header's first value, or "": Header.Get for a canonical key.
func first(h nethttp.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}
