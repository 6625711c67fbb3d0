package httpapi_test

import (
	nethttp "net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/test/testkit"
)

// The WWW-Authenticate values of a 401 (RFC 6750 section 3.1).
const (
	invalidToken   = `Bearer error="invalid_token"`
	invalidRequest = `Bearer error="invalid_request"`
	bareChallenge  = "Bearer"
)

// adversarialChallenge is the challenge each attempt of
// TestAdversarialCredentials gets: invalid_token only where a token was
// read and judged bad.
func adversarialChallenge(name, msg string) string {
	if msg == "Invalid api-key" {
		return bareChallenge
	}
	switch name {
	case "NoScheme", "BasicScheme", "BearerNoSpace":
		return bareChallenge // no Bearer credentials were presented
	case "TokenEmpty", "BearerTab", "TwoTokensInOneHeader", "CommaList", "TwoAuthorizationHeaders":
		return invalidRequest
	}
	return invalidToken
}

// TestWWWAuthenticateNamesInvalidTokenOnlyForABadToken: error="invalid_token"
// when the token itself was judged bad; no error code when it is missing
// or another scheme is used, nor for a bad api-key; invalid_request for a
// repeated or malformed Authorization header (issue 10 item 13).
func TestWWWAuthenticateNamesInvalidTokenOnlyForABadToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	good := b.kit.Token(testkit.ClientA)
	path := jobPath(b.pending.ID)
	h := func(kv ...string) nethttp.Header {
		out := nethttp.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name   string
		header nethttp.Header
		want   string
	}{
		{"NoAuthorization", h("Api-Key", testkit.KeyA), bareChallenge},
		{"NoCredentialsAtAll", h(), bareChallenge},
		{"BasicScheme", h("Authorization", "Basic YTpi", "Api-Key", testkit.KeyA), bareChallenge},
		{"DigestScheme", h("Authorization", `Digest username="a"`, "Api-Key", testkit.KeyA), bareChallenge},
		{"TokenWithoutScheme", h("Authorization", good, "Api-Key", testkit.KeyA), bareChallenge},
		{"EmptyAuthorization", h("Authorization", "", "Api-Key", testkit.KeyA), bareChallenge},
		{"MissingAPIKey", h("Authorization", "Bearer "+good), bareChallenge},
		{"UnknownAPIKey", h("Authorization", "Bearer "+good, "Api-Key", "nope"), bareChallenge},
		{"UnknownAPIKeyAndBadToken", h("Authorization", "Bearer x.y.z", "Api-Key", "nope"), bareChallenge},
		{"RepeatedAPIKey", h("Authorization", "Bearer "+good, "Api-Key", testkit.KeyA, "Api-Key", testkit.KeyA), bareChallenge},
		{"BearerWithoutToken", h("Authorization", "Bearer", "Api-Key", testkit.KeyA), invalidRequest},
		{"BearerSpaceOnly", h("Authorization", "Bearer ", "Api-Key", testkit.KeyA), invalidRequest},
		{"TwoTokens", h("Authorization", "Bearer "+good+" "+good, "Api-Key", testkit.KeyA), invalidRequest},
		{"RepeatedAuthorization", h("Authorization", "Bearer "+good, "Authorization", "Bearer "+good, "Api-Key", testkit.KeyA), invalidRequest},
		{"GarbageToken", h("Authorization", "Bearer x.y.z", "Api-Key", testkit.KeyA), invalidToken},
		{"LowercaseSchemeGarbageToken", h("Authorization", "bearer x.y.z", "Api-Key", testkit.KeyA), invalidToken},
		{"TokenOfOtherClient", h("Authorization", "Bearer "+b.kit.Token(testkit.ClientB), "Api-Key", testkit.KeyA), invalidToken},
	}
	for _, bad := range b.kit.BadTokens() {
		want := invalidToken
		if bad.Token == "" {
			want = invalidRequest // "Bearer " brings no token to judge
		}
		tests = append(tests, struct {
			name   string
			header nethttp.Header
			want   string
		}{"Token" + bad.Name, h("Authorization", "Bearer "+bad.Token, "Api-Key", testkit.KeyA), want})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := b.do(t, "GET", path, tt.header, nil)
			require.Equal(t, 401, r.Status, string(r.Raw))
			require.Equal(t, []string{tt.want}, r.Header.Values("WWW-Authenticate"))
		})
	}
}
