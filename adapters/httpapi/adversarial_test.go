package httpapi_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	nethttp "net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestAdversarialCredentials sends hand-made tokens and header
// combinations through the whole stack; each must get exactly the 401 (or
// 400) docs/http-api.md prescribes, with the exact error body.
func TestAdversarialCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t)
	good := b.kit.Token(testkit.ClientA)
	path := jobPath(b.done.ID)

	type attempt struct {
		name   string
		header nethttp.Header
		status int
		typ    string
		msg    string
	}
	tokenDenied := func(name string, h nethttp.Header) attempt {
		return attempt{name, h, 401, "access_denied", "Invalid access token"}
	}
	keyDenied := func(name string, h nethttp.Header) attempt {
		return attempt{name, h, 401, "access_denied", "Invalid api-key"}
	}
	withToken := func(tok string) nethttp.Header {
		return nethttp.Header{"Authorization": {"Bearer " + tok}, "Api-Key": {testkit.KeyA}}
	}

	var attempts []attempt
	for _, bad := range b.kit.BadTokens() {
		attempts = append(attempts, tokenDenied("Token"+bad.Name, withToken(bad.Token)))
	}
	attempts = append(attempts,
		tokenDenied("NoScheme", nethttp.Header{"Authorization": {good}, "Api-Key": {testkit.KeyA}}),
		tokenDenied("BasicScheme", nethttp.Header{"Authorization": {"Basic " + good}, "Api-Key": {testkit.KeyA}}),
		tokenDenied("BearerNoSpace", nethttp.Header{"Authorization": {"Bearer" + good}, "Api-Key": {testkit.KeyA}}),
		tokenDenied("BearerTab", nethttp.Header{"Authorization": {"Bearer\t" + good}, "Api-Key": {testkit.KeyA}}),
		tokenDenied("TwoTokensInOneHeader", nethttp.Header{"Authorization": {"Bearer " + good + " " + good}, "Api-Key": {testkit.KeyA}}),
		tokenDenied("CommaList", nethttp.Header{"Authorization": {"Bearer " + good + ", Bearer " + good}, "Api-Key": {testkit.KeyA}}),
		tokenDenied("TwoAuthorizationHeaders", nethttp.Header{"Authorization": {"Bearer " + good, "Bearer " + good}, "Api-Key": {testkit.KeyA}}),
		tokenDenied("TokenQuoted", nethttp.Header{"Authorization": {`Bearer "` + good + `"`}, "Api-Key": {testkit.KeyA}}),
		tokenDenied("TokenWithTrailingDot", withToken(good+".")),
		tokenDenied("TokenOfOtherClient", withToken(b.kit.Token(testkit.ClientB))),
		keyDenied("NoAPIKey", nethttp.Header{"Authorization": {"Bearer " + good}}),
		keyDenied("TwoAPIKeys", nethttp.Header{"Authorization": {"Bearer " + good}, "Api-Key": {testkit.KeyA, testkit.KeyA}}),
		keyDenied("APIKeyOfOtherCase", nethttp.Header{"Authorization": {"Bearer " + good}, "Api-Key": {strings.ToUpper(testkit.KeyA)}}),
		keyDenied("APIKeyDigestInstead", nethttp.Header{"Authorization": {"Bearer " + good}, "Api-Key": {"cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf"}}),
		keyDenied("APIKeyWithPrefix", nethttp.Header{"Authorization": {"Bearer " + good}, "Api-Key": {"Bearer " + testkit.KeyA}}),
		keyDenied("XAPIKeyHeaderIsNotAPIKey", nethttp.Header{"Authorization": {"Bearer " + good}, "X-Api-Key": {testkit.KeyA}}),
		attempt{"ScopeCaseVariant", withToken(func() string {
			c := testkit.Claims(testkit.ClientA)
			c["scope"] = "COMPOSITION:READ"
			return b.kit.Sign(b.kit.Header(), c)
		}()), 403, "forbidden", "Your scope does not allow to access this resource. Missing allowances: composition:read"},
		attempt{"ScopeAsList", withToken(func() string {
			c := testkit.Claims(testkit.ClientA)
			c["scope"] = []string{"composition:read"}
			return b.kit.Sign(b.kit.Header(), c)
		}()), 401, "access_denied", "Invalid access token"},
		attempt{"ScopePrefixOnly", withToken(func() string {
			c := testkit.Claims(testkit.ClientA)
			c["scope"] = "composition:re"
			return b.kit.Sign(b.kit.Header(), c)
		}()), 403, "forbidden", "Your scope does not allow to access this resource. Missing allowances: composition:read"},
	)
	require.GreaterOrEqual(t, len(attempts), 30)

	for _, a := range attempts {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			r := b.do(t, "GET", path, a.header, nil)
			requireError(t, r, a.status, a.typ, a.msg)
			want := fmt.Sprintf(`{"error":{"type":%q,"message":%q},"meta":{"code":%d,"url":%q,"type":"object","request_id":%q}}`,
				a.typ, a.msg, a.status, path, r.Header.Get("X-Request-ID"))
			require.Equal(t, want, string(r.Raw))
			if a.status == 401 {
				require.Equal(t, adversarialChallenge(a.name, a.msg), r.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// TestRawRequests sends bytes a Go client would refuse to send.
func TestRawRequests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	good := b.kit.Token(testkit.ClientA)
	addr := strings.TrimPrefix(b.baseURL, "http://")
	raw := func(t *testing.T, req string) string {
		t.Helper()
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		require.NoError(t, err)
		defer conn.Close()
		require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
		_, err = conn.Write([]byte(req))
		require.NoError(t, err)
		line, err := bufio.NewReader(conn).ReadString('\n')
		require.NoError(t, err)
		return strings.TrimSpace(line)
	}
	path := jobPath(b.done.ID)
	tests := map[string]struct {
		req  string
		want string
	}{
		// RFC 9112 5.2 lets a server replace obs-fold with a space; net/http does.
		"ObsFoldedAuthorization": {"GET " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n " + good + "\r\nApi-Key: " + testkit.KeyA + "\r\n\r\n", "HTTP/1.1 200 OK"},
		"NulInAPIKey":            {"GET " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + good + "\r\nApi-Key: " + testkit.KeyA + "\x00\r\n\r\n", "HTTP/1.1 400 Bad Request"},
		"SpaceBeforeColon":       {"GET " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization : Bearer " + good + "\r\nApi-Key: " + testkit.KeyA + "\r\n\r\n", "HTTP/1.1 400 Bad Request"},
		"Valid":                  {"GET " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + good + "\r\nApi-Key: " + testkit.KeyA + "\r\n\r\n", "HTTP/1.1 200 OK"},
		"LowercaseHeaderNames":   {"GET " + path + " HTTP/1.1\r\nHost: x\r\nauthorization: bearer " + good + "\r\napi-key: " + testkit.KeyA + "\r\n\r\n", "HTTP/1.1 200 OK"},
		"BodyOnGet":              {"GET " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + good + "\r\nApi-Key: " + testkit.KeyA + "\r\nContent-Length: 2\r\n\r\n{}", "HTTP/1.1 400 Bad Request"},
		"ChunkedBodyOnGet":       {"GET " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + good + "\r\nApi-Key: " + testkit.KeyA + "\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", "HTTP/1.1 400 Bad Request"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.True(t, strings.HasPrefix(raw(t, tt.req), tt.want), "want %q", tt.want)
		})
	}
}

// TestMetaURLIsThePathAsSent: meta.url is the request's path without its
// query, escaped as the caller escaped it (an encoded slash stays %2F);
// a character a path may not carry raw, such as "{", comes back
// percent-encoded (docs/http-api.md). Sent as raw bytes: Go's client would
// escape the path itself.
func TestMetaURLIsThePathAsSent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	good := b.kit.Token(testkit.ClientA)
	addr := strings.TrimPrefix(b.baseURL, "http://")
	id := b.done.ID.String()
	tests := []struct{ name, path, url string }{
		{"QueryLeftOut", jobPath(b.done.ID) + "?x=1&y=%2F", jobPath(b.done.ID)},
		{"EncodedSlashAsSent", "/patients/composition/job/" + id + "%2Fx", "/patients/composition/job/" + id + "%2Fx"},
		{"EncodedLetterAsSent", "/patients/composition/job/%61" + id[1:], "/patients/composition/job/%61" + id[1:]},
		{"RawBraceEncoded", "/patients/composition/job/{" + id + "}", "/patients/composition/job/%7B" + id + "%7D"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
			_, err = conn.Write([]byte("GET " + tt.path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + good +
				"\r\nApi-Key: " + testkit.KeyA + "\r\nConnection: close\r\n\r\n"))
			require.NoError(t, err)
			res, err := nethttp.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err)
			defer res.Body.Close()
			var body struct {
				Meta struct {
					URL string `json:"url"`
				} `json:"meta"`
			}
			require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
			require.Equal(t, tt.url, body.Meta.URL, "status %d", res.StatusCode)
		})
	}
}
