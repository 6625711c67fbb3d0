package jwtauth_test

import (
	"context"
	"crypto/elliptic"
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

// TestKeyLeavingTheSet: once a key leaves the set, by a reload of the file
// or a refresh of the URL, tokens it verified are refused at once, whether
// the verified-token cache holds them or not.
func TestKeyLeavingTheSet(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	other := testkit.ECKey(t, elliptic.P256())
	claims := testkit.Claims(testkit.ClientA)
	ecJWK := testkit.PublicJWK(&kit.Key.PublicKey, "a", nil)
	rsaJWK := testkit.PublicJWK(&kit.RSA.PublicKey, "b", nil)
	ecTok := testkit.SignWith(kit.Key, header("ES256", "a"), claims)
	rsaTok := testkit.SignWith(kit.RSA, header("RS256", "b"), claims)
	before := testkit.JWKS(ecJWK, rsaJWK)
	changes := map[string][]byte{
		"KeyRemoved":             testkit.JWKS(rsaJWK),
		"KeyReplacedUnderKID":    testkit.JWKS(testkit.PublicJWK(&other.PublicKey, "a", nil), rsaJWK),
		"KeyRestrictedToAnother": testkit.JWKS(testkit.PublicJWK(&kit.Key.PublicKey, "a", map[string]any{"alg": "ES384"}), rsaJWK),
		"KeyMarkedForEncryption": testkit.JWKS(testkit.PublicJWK(&kit.Key.PublicKey, "a", map[string]any{"use": "enc"}), rsaJWK),
	}
	for name, after := range changes {
		for _, cache := range []int{0, 100} {
			for _, source := range []string{"File", "URL"} {
				t.Run(name+"/"+source+"/Cache"+map[bool]string{true: "On", false: "Off"}[cache > 0], func(t *testing.T) {
					t.Parallel()
					var served atomic.Pointer[[]byte]
					served.Store(&before)
					cfg := kit.VerifierConfig()
					cfg.CacheSize = cache
					if source == "File" {
						cfg.JWKSFile = testkit.WriteJWKS(t, t.TempDir(), before)
					} else {
						cfg = kit.URLConfig(serveJWKS(t, &served).URL)
						cfg.CacheSize = cache
					}
					v, err := jwtauth.NewVerifier(cfg, nil)
					require.NoError(t, err)
					t.Cleanup(v.Close)
					ctx := context.Background()
					for range 2 { // the second is a cache hit when the cache is on
						_, err = v.Verify(ctx, ecTok)
						require.NoError(t, err)
					}
					if source == "File" {
						require.NoError(t, os.WriteFile(cfg.JWKSFile, after, 0o600))
					} else {
						served.Store(&after)
					}
					require.NoError(t, v.Reload(ctx))
					_, err = v.Verify(ctx, ecTok)
					require.Error(t, err, "the key that verified this token is gone")
					_, err = v.Verify(ctx, rsaTok)
					require.NoError(t, err, "the key that stayed keeps verifying")
				})
			}
		}
	}
}

// TestKeyAddedKeepsCache: a key joining the set takes nothing away, so
// cached verifications stay.
func TestKeyAddedKeepsCache(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	cfg := kit.VerifierConfig()
	cfg.CacheSize = 10
	cfg.JWKSFile = testkit.WriteJWKS(t, t.TempDir(), testkit.JWKS(testkit.PublicJWK(&kit.Key.PublicKey, kit.KID, nil)))
	v, err := jwtauth.NewVerifier(cfg, nil)
	require.NoError(t, err)
	t.Cleanup(v.Close)
	ctx := context.Background()
	tok := kit.Token(testkit.ClientA)
	_, err = v.Verify(ctx, tok)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg.JWKSFile, testkit.JWKS(testkit.PublicJWK(&kit.Key.PublicKey, kit.KID, nil),
		testkit.PublicJWK(&kit.RSA.PublicKey, kit.RSAKID, nil)), 0o600))
	require.NoError(t, v.Reload(ctx))
	_, err = v.Verify(ctx, tok)
	require.NoError(t, err)
	hits, misses := v.CacheStats()
	require.Equal(t, [2]uint64{1, 1}, [2]uint64{hits, misses})
}

// flaky serves the kit's JWKS and fails the requests whose number (from 1)
// is in fail.
func flaky(t *testing.T, kit *testkit.Kit, fail map[int32]bool) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	jwks, err := os.ReadFile(kit.JWKSFile)
	require.NoError(t, err)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if fail[n.Add(1)] {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestReadinessRecoversAfterRefresh: one failed JWKS refresh is reported
// until the next successful one, not forever.
func TestReadinessRecoversAfterRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("Reload", func(t *testing.T) {
		t.Parallel()
		kit := testkit.New(t)
		srv, _ := flaky(t, kit, map[int32]bool{2: true})
		v, err := jwtauth.NewVerifier(kit.URLConfig(srv.URL), nil)
		require.NoError(t, err)
		t.Cleanup(v.Close)

		require.Error(t, v.Reload(ctx))
		detail, err := v.Ready(ctx)
		require.NoError(t, err, "the last good keys are still there")
		require.Contains(t, detail, "last JWKS refresh failed")

		require.NoError(t, v.Reload(ctx))
		detail, err = v.Ready(ctx)
		require.NoError(t, err)
		require.NotContains(t, detail, "failed")
	})
	t.Run("BackgroundRefresh", func(t *testing.T) {
		t.Parallel()
		kit := testkit.New(t)
		srv, requests := flaky(t, kit, map[int32]bool{1: true})
		cfg := kit.URLConfig(srv.URL)
		cfg.JWKSRefresh = 20 * time.Millisecond
		v, err := jwtauth.NewVerifier(cfg, nil)
		require.NoError(t, err)
		t.Cleanup(v.Close)
		_, err = v.Ready(ctx)
		require.ErrorContains(t, err, "last JWKS refresh failed", "the first fetch failed")
		require.Eventually(t, func() bool {
			detail, err := v.Ready(ctx)
			return requests.Load() >= 2 && err == nil && !strings.Contains(detail, "failed")
		}, 5*time.Second, 10*time.Millisecond)
	})
}
