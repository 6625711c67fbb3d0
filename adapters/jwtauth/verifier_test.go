package jwtauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/test/testkit"
)

func setup(t *testing.T) (*jwtauth.Verifier, *testkit.Kit) {
	t.Helper()
	kit := testkit.New(t)
	v, err := jwtauth.NewVerifier(kit.VerifierConfig(), nil)
	require.NoError(t, err)
	t.Cleanup(v.Close)
	return v, kit
}

func TestVerifyAcceptsValidTokens(t *testing.T) {
	t.Parallel()
	v, kit := setup(t)
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			h := map[string]any{"alg": alg, "typ": "at+jwt", "kid": map[string]string{
				"ES256": kit.KID, "RS256": kit.RSAKID, "EdDSA": kit.EdKID}[alg]}
			p, err := v.Verify(context.Background(), kit.Sign(h, testkit.Claims(testkit.ClientA)))
			require.NoError(t, err)
			require.Equal(t, testkit.ClientA, p.ClientID)
			require.Equal(t, "doctor-1", p.Subject)
			require.Equal(t, []string{"composition:create", testkit.Scope}, p.Scopes)
		})
	}
	t.Run("AudienceList", func(t *testing.T) {
		t.Parallel()
		c := testkit.Claims(testkit.ClientA)
		c["aud"] = []string{"other", testkit.Audience}
		_, err := v.Verify(context.Background(), kit.Sign(kit.Header(), c))
		require.NoError(t, err)
	})
	t.Run("PlainJWTType", func(t *testing.T) {
		t.Parallel()
		h := kit.Header()
		h["typ"] = "JWT"
		_, err := v.Verify(context.Background(), kit.Sign(h, testkit.Claims(testkit.ClientA)))
		require.NoError(t, err)
	})
	t.Run("ExpiredWithinLeeway", func(t *testing.T) {
		t.Parallel()
		c := testkit.Claims(testkit.ClientA)
		c["exp"] = time.Now().Add(-2 * time.Second).Unix()
		_, err := v.Verify(context.Background(), kit.Sign(kit.Header(), c))
		require.NoError(t, err)
	})
	t.Run("MintedBySigner", func(t *testing.T) {
		t.Parallel()
		tok, err := kit.Signer.Mint(jwtauth.TokenParams{Issuer: testkit.Issuer, Audience: testkit.Audience,
			Subject: "s", ClientID: testkit.ClientB, Scopes: []string{testkit.Scope}})
		require.NoError(t, err)
		p, err := v.Verify(context.Background(), tok)
		require.NoError(t, err)
		require.Equal(t, testkit.ClientB, p.ClientID)
	})
}

func TestVerifyRefusesBadTokens(t *testing.T) {
	t.Parallel()
	v, kit := setup(t)
	cases := kit.BadTokens()
	require.GreaterOrEqual(t, len(cases), 30)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			_, err := v.Verify(context.Background(), tc.Token)
			requireRefused(t, err, tc.Reason)
		})
	}
}

func TestNewVerifierRefusesBadConfig(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	empty := kit.Dir + "/empty.json"
	require.NoError(t, os.WriteFile(empty, []byte(`{"keys":[]}`), 0o600))
	url := func(edit func(*jwtauth.Config)) jwtauth.Config {
		c := kit.VerifierConfig()
		c.JWKSFile, c.JWKSURL, c.JWKSRefresh, c.JWKSUnknownKIDInterval = "", "http://127.0.0.1:1/jwks", time.Minute, time.Minute
		edit(&c)
		return c
	}
	file := func(edit func(*jwtauth.Config)) jwtauth.Config {
		c := kit.VerifierConfig()
		edit(&c)
		return c
	}
	tests := []struct {
		name string
		cfg  jwtauth.Config
	}{
		{"NoIssuer", file(func(c *jwtauth.Config) { c.Issuer = "" })},
		{"NoAudience", file(func(c *jwtauth.Config) { c.Audience = "" })},
		// Tokens carry the exact value: a padded one matches none of them.
		{"PaddedIssuer", file(func(c *jwtauth.Config) { c.Issuer = " " + c.Issuer })},
		{"BlankAudience", file(func(c *jwtauth.Config) { c.Audience = " " })},
		{"NoKeys", file(func(c *jwtauth.Config) { c.JWKSFile = "" })},
		{"TwoKeySources", file(func(c *jwtauth.Config) { c.JWKSURL = "http://127.0.0.1:1" })},
		{"SymmetricAlg", file(func(c *jwtauth.Config) { c.Algorithms = []string{"HS256"} })},
		{"NoneAlg", file(func(c *jwtauth.Config) { c.Algorithms = []string{"none"} })},
		{"NoAlgorithms", file(func(c *jwtauth.Config) { c.Algorithms = nil })},
		{"NegativeLeeway", file(func(c *jwtauth.Config) { c.Leeway = -time.Second })},
		{"NegativeCacheSize", file(func(c *jwtauth.Config) { c.CacheSize = -1 })},
		{"MissingFile", file(func(c *jwtauth.Config) { c.JWKSFile = kit.Dir + "/nope.json" })},
		{"EmptyJWKS", file(func(c *jwtauth.Config) { c.JWKSFile = empty })},
		{"ZeroRefresh", url(func(c *jwtauth.Config) { c.JWKSRefresh = 0 })},
		{"NegativeRefresh", url(func(c *jwtauth.Config) { c.JWKSRefresh = -time.Minute })},
		{"ZeroUnknownKIDInterval", url(func(c *jwtauth.Config) { c.JWKSUnknownKIDInterval = 0 })},
		{"NegativeUnknownKIDInterval", url(func(c *jwtauth.Config) { c.JWKSUnknownKIDInterval = -time.Minute })},
		{"URLNotHTTP", url(func(c *jwtauth.Config) { c.JWKSURL = "file:///etc/jwks.json" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := jwtauth.NewVerifier(tt.cfg, nil)
			require.Error(t, err)
		})
	}
}

func TestAlgorithmAllowList(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	v, err := jwtauth.NewVerifier(jwtauth.Config{Issuer: testkit.Issuer, Audience: testkit.Audience,
		JWKSFile: kit.JWKSFile, Algorithms: []string{"RS256"}}, nil)
	require.NoError(t, err)
	t.Cleanup(v.Close)
	_, err = v.Verify(context.Background(), kit.Token(testkit.ClientA)) // ES256
	require.Error(t, err, "ES256 is not on this allow-list")
	h := map[string]any{"alg": "RS256", "kid": kit.RSAKID}
	_, err = v.Verify(context.Background(), kit.Sign(h, testkit.Claims(testkit.ClientA)))
	require.NoError(t, err)
}

func TestJWKSURL(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	jwks, err := os.ReadFile(kit.JWKSFile)
	require.NoError(t, err)
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(srv.Close)

	v, err := jwtauth.NewVerifier(jwtauth.Config{Issuer: testkit.Issuer, Audience: testkit.Audience, Algorithms: jwtauth.DefaultAlgorithms,
		JWKSURL: srv.URL, JWKSRefresh: time.Hour, JWKSUnknownKIDInterval: time.Hour}, nil)
	require.NoError(t, err)
	t.Cleanup(v.Close)

	_, err = v.Verify(context.Background(), kit.Token(testkit.ClientA))
	require.NoError(t, err)
	require.Equal(t, int32(1), fetches.Load())

	// A flood of made-up kids refetches at most once per interval.
	for i := range 50 {
		h := kit.Header()
		h["kid"] = "unknown-" + string(rune('a'+i%26))
		_, err := v.Verify(context.Background(), kit.Sign(h, testkit.Claims(testkit.ClientA)))
		require.Error(t, err)
	}
	require.LessOrEqual(t, fetches.Load(), int32(2), "unknown kids must not hammer the JWKS endpoint")
}

// jwksServer serves the kit's JWKS until down is set, then 503s.
func jwksServer(t *testing.T, kit *testkit.Kit, down *atomic.Bool) *httptest.Server {
	t.Helper()
	jwks, err := os.ReadFile(kit.JWKSFile)
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestJWKSURLGoesDownLater(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	var down atomic.Bool
	srv := jwksServer(t, kit, &down)
	v, err := jwtauth.NewVerifier(jwtauth.Config{Issuer: testkit.Issuer, Audience: testkit.Audience, Algorithms: jwtauth.DefaultAlgorithms,
		JWKSURL: srv.URL, JWKSRefresh: 50 * time.Millisecond, JWKSUnknownKIDInterval: time.Hour}, nil)
	require.NoError(t, err)
	t.Cleanup(v.Close)
	ctx := context.Background()
	_, err = v.Verify(ctx, kit.Token(testkit.ClientA))
	require.NoError(t, err)

	down.Store(true)
	require.Eventually(t, func() bool {
		detail, err := v.Ready(ctx)
		return err == nil && strings.Contains(detail, "last JWKS refresh failed")
	}, 5*time.Second, 20*time.Millisecond, "readiness says the refresh failed")
	_, err = v.Verify(ctx, kit.Token(testkit.ClientA))
	require.NoError(t, err, "the last good keys keep verifying")
}

func TestJWKSURLDownAtStart(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	var down atomic.Bool
	down.Store(true)
	srv := jwksServer(t, kit, &down)
	v, err := jwtauth.NewVerifier(jwtauth.Config{Issuer: testkit.Issuer, Audience: testkit.Audience, Algorithms: jwtauth.DefaultAlgorithms,
		JWKSURL: srv.URL, JWKSRefresh: 50 * time.Millisecond, JWKSUnknownKIDInterval: time.Hour}, nil)
	require.NoError(t, err, "a JWKS endpoint that is down does not stop the service")
	t.Cleanup(v.Close)
	ctx := context.Background()
	_, err = v.Ready(ctx)
	require.ErrorContains(t, err, "no usable verification key")
	_, err = v.Verify(ctx, kit.Token(testkit.ClientA))
	require.Error(t, err)

	down.Store(false)
	require.Eventually(t, func() bool { _, err := v.Ready(ctx); return err == nil }, 5*time.Second, 20*time.Millisecond)
	_, err = v.Verify(ctx, kit.Token(testkit.ClientA))
	require.NoError(t, err)
}
