package jwtauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// bothSources builds one verifier reading doc from a file and one fetching
// it from a URL, each with cfg changed by edit (nil: as the kit has it).
func bothSources(t *testing.T, kit *testkit.Kit, doc []byte, edit func(*jwtauth.Config), logger *zap.Logger) map[string]*jwtauth.Verifier {
	t.Helper()
	if edit == nil {
		edit = func(*jwtauth.Config) {}
	}
	cfg := kit.VerifierConfig()
	cfg.JWKSFile = testkit.WriteJWKS(t, t.TempDir(), doc)
	edit(&cfg)
	fromFile, err := jwtauth.NewVerifier(cfg, logger)
	require.NoError(t, err)
	t.Cleanup(fromFile.Close)

	var served atomic.Pointer[[]byte]
	served.Store(&doc)
	cfg = kit.URLConfig(serveJWKS(t, &served).URL)
	edit(&cfg)
	fromURL, err := jwtauth.NewVerifier(cfg, logger)
	require.NoError(t, err)
	t.Cleanup(fromURL.Close)
	return map[string]*jwtauth.Verifier{"File": fromFile, "URL": fromURL}
}

// noKID is a header without "kid".
func noKID(alg string) map[string]any { return map[string]any{"alg": alg, "typ": "at+jwt"} }

// TestKeysWithoutKID: "kid" is optional (RFC 7517 section 4.5, RFC 7515
// section 4.1.4). A token with a kid uses only the keys with that kid; a
// token without one is tried against the usable keys fitting its alg, at
// most 4 of them. Each case runs through the JWKS
// file and the JWKS URL.
func TestKeysWithoutKID(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	claims := testkit.Claims(testkit.ClientA)
	a3, ed := testkit.RFC7515A3Key(), testkit.RFC8037Key()
	other := testkit.ECKey(t, elliptic.P256())
	ecNamed := testkit.PublicJWK(&kit.Key.PublicKey, kit.KID, nil)
	kidless := func(pub crypto.PublicKey) map[string]any {
		return testkit.PublicJWK(pub, "", map[string]any{"kid": nil})
	}
	many := func(n int) ([]map[string]any, []*ecdsa.PrivateKey) {
		var jwks []map[string]any
		var keys []*ecdsa.PrivateKey
		for range n {
			k := testkit.ECKey(t, elliptic.P256())
			keys, jwks = append(keys, k), append(jwks, kidless(&k.PublicKey))
		}
		return jwks, keys
	}
	four, fourKeys := many(jwtauth.MaxKeysWithoutKID)
	five, fiveKeys := many(jwtauth.MaxKeysWithoutKID + 1)

	// token is one token and how it fares: reason is empty when it verifies.
	type token struct {
		name, token, reason string
	}
	const noKey, badSig = "no matching key", "bad signature or algorithm"
	tests := []struct {
		name   string
		keys   []map[string]any
		tokens []token
	}{
		{"RFC7515AppendixA3ES256", []map[string]any{testkit.RFC7515A3JWK()}, []token{
			{"NoKID", testkit.SignWith(a3, noKID("ES256"), claims), ""},
			{"AnyKIDNamesNoKey", testkit.SignWith(a3, header("ES256", "a3"), claims), noKey},
			{"OtherKeyNoKID", testkit.SignWith(other, noKID("ES256"), claims), badSig},
			{"OtherAlgNoKID", testkit.SignWith(kit.RSA, noKID("RS256"), claims), noKey},
		}},
		{"RFC8037Ed25519", []map[string]any{testkit.RFC8037JWK()}, []token{
			{"NoKID", testkit.SignWith(ed, noKID("EdDSA"), claims), ""},
			{"AnyKIDNamesNoKey", testkit.SignWith(ed, header("EdDSA", "ed"), claims), noKey},
		}},
		{"RS256", []map[string]any{kidless(&kit.RSA.PublicKey)}, []token{
			{"NoKID", testkit.SignWith(kit.RSA, noKID("RS256"), claims), ""},
			{"OtherKeyNoKID", testkit.SignWith(testkit.RSAKey(t, 3072), noKID("RS256"), claims), badSig},
		}},
		{"MixedWithKIDs", []map[string]any{ecNamed, testkit.RFC7515A3JWK(), testkit.RFC8037JWK()}, []token{
			{"KidlessKeyNoKID", testkit.SignWith(a3, noKID("ES256"), claims), ""},
			{"NamedKeyNoKID", testkit.SignWith(kit.Key, noKID("ES256"), claims), ""},
			{"NamedKeyByKID", testkit.SignWith(kit.Key, header("ES256", kit.KID), claims), ""},
			{"KidlessKeyUnderAnotherKeysKID", testkit.SignWith(a3, header("ES256", kit.KID), claims), badSig},
			{"EdDSANoKID", testkit.SignWith(ed, noKID("EdDSA"), claims), ""},
		}},
		{"TwoKidlessKeysOfOneAlg", []map[string]any{kidless(&other.PublicKey), testkit.RFC7515A3JWK()}, []token{
			{"First", testkit.SignWith(other, noKID("ES256"), claims), ""},
			{"Second", testkit.SignWith(a3, noKID("ES256"), claims), ""},
		}},
		{"AsManyAsTheBound", four, []token{
			{"Last", testkit.SignWith(fourKeys[len(fourKeys)-1], noKID("ES256"), claims), ""},
		}},
		{"MoreThanTheBound", append(five, testkit.RFC8037JWK()), []token{
			{"First", testkit.SignWith(fiveKeys[0], noKID("ES256"), claims), noKey},
			{"Last", testkit.SignWith(fiveKeys[len(fiveKeys)-1], noKID("ES256"), claims), noKey},
			{"OtherAlgStillTried", testkit.SignWith(ed, noKID("EdDSA"), claims), ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for path, v := range bothSources(t, kit, testkit.JWKS(tt.keys...), nil, nil) {
				require.Zero(t, v.SkippedKeys(), "%s: a key without kid is usable", path)
				for _, tok := range tt.tokens {
					_, err := v.Verify(context.Background(), tok.token)
					if tok.reason == "" {
						require.NoError(t, err, "%s %s", path, tok.name)
					} else {
						requireRefused(t, err, tok.reason)
					}
				}
			}
		})
	}

	t.Run("EmptyKIDIsSkipped", func(t *testing.T) {
		t.Parallel()
		doc := testkit.JWKS(testkit.With(testkit.RFC7515A3JWK(), map[string]any{"kid": ""}), ecNamed)
		for path, v := range bothSources(t, kit, doc, nil, nil) {
			_, err := v.Verify(context.Background(), testkit.SignWith(a3, noKID("ES256"), claims))
			requireRefused(t, err, "bad signature or algorithm") // tried against the other key only
			detail, err := v.Ready(context.Background())
			require.NoError(t, err, path)
			require.Contains(t, detail, `"kid" is empty`, path)
			require.Equal(t, uint64(1), v.SkippedKeys(), path)
		}
	})

	t.Run("CachedLikeAnyToken", func(t *testing.T) {
		t.Parallel()
		tok := testkit.SignWith(a3, noKID("ES256"), claims)
		edit := func(c *jwtauth.Config) { c.CacheSize = 16 }
		for path, v := range bothSources(t, kit, testkit.JWKS(testkit.RFC7515A3JWK()), edit, nil) {
			for range 3 {
				_, err := v.Verify(context.Background(), tok)
				require.NoError(t, err, path)
			}
			hits, misses := v.CacheStats()
			require.Equal(t, [2]uint64{2, 1}, [2]uint64{hits, misses}, path)
		}
	})
}

// TestPublishedVectorKeys checks the kit's copies of the published keys
// against their published public halves.
func TestPublishedVectorKeys(t *testing.T) {
	t.Parallel()
	a3 := testkit.PublicJWK(&testkit.RFC7515A3Key().PublicKey, "", map[string]any{"kid": nil})
	require.Equal(t, testkit.RFC7515A3JWK(), a3)
	ed := testkit.PublicJWK(testkit.RFC8037Key().Public(), "", map[string]any{"kid": nil})
	require.Equal(t, testkit.RFC8037JWK(), ed)
	roca := testkit.WycheproofROCAKey()
	require.Equal(t, testkit.WycheproofROCAJWK()["n"], testkit.PublicJWK(&roca.PublicKey, "", nil)["n"])
}

// TestRSAKeyWithROCAWeakness: an RSA key made by Infineon's flawed
// generator (ROCA, CVE-2017-15361) can be factored, so it is skipped like
// any unusable key: a warning naming its kid and the reason, the skipped
// counter, and readiness when nothing usable is left. Wycheproof's
// json_web_key_test.json "rejectsKeyWithRocaVulnerability" key is the
// vector; keys generated here must pass.
func TestRSAKeyWithROCAWeakness(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	claims := testkit.Claims(testkit.ClientA)
	roca := testkit.WycheproofROCAJWK()
	rocaToken := testkit.SignWith(testkit.WycheproofROCAKey(), header("RS256", "kid-rsa-roca-sign"), claims)
	rocaNoKID := testkit.SignWith(testkit.WycheproofROCAKey(), noKID("RS256"), claims)

	t.Run("SkippedBesideAGoodKey", func(t *testing.T) {
		t.Parallel()
		core, logs := observer.New(zapcore.WarnLevel)
		good := testkit.PublicJWK(&kit.RSA.PublicKey, kit.RSAKID, nil)
		for path, v := range bothSources(t, kit, testkit.JWKS(roca, good), nil, zap.New(core)) {
			_, err := v.Verify(context.Background(), rocaToken)
			requireRefused(t, err, "no matching key")
			_, err = v.Verify(context.Background(), rocaNoKID)
			require.Error(t, err, path)
			_, err = v.Verify(context.Background(), testkit.SignWith(kit.RSA, header("RS256", kit.RSAKID), claims))
			require.NoError(t, err, "%s: a generated key passes", path)
			detail, err := v.Ready(context.Background())
			require.NoError(t, err, path)
			require.Contains(t, detail, `key 0 (kid "kid-rsa-roca-sign"): RSA modulus has the ROCA weakness (CVE-2017-15361)`, path)
			require.Equal(t, uint64(1), v.SkippedKeys(), path)
		}
		warned := logs.FilterMessage("JWKS key skipped").All()
		require.Len(t, warned, 2, "one warning per source")
		for _, e := range warned {
			require.Equal(t, "kid-rsa-roca-sign", e.ContextMap()["kid"])
			require.Contains(t, e.ContextMap()["reason"], "ROCA")
		}
	})

	t.Run("AloneIsNotReady", func(t *testing.T) {
		t.Parallel()
		doc := testkit.JWKS(roca)
		cfg := kit.VerifierConfig()
		cfg.JWKSFile = testkit.WriteJWKS(t, t.TempDir(), doc)
		_, err := jwtauth.NewVerifier(cfg, nil)
		require.ErrorContains(t, err, "ROCA")

		var served atomic.Pointer[[]byte]
		served.Store(&doc)
		v, err := jwtauth.NewVerifier(kit.URLConfig(serveJWKS(t, &served).URL), nil)
		require.NoError(t, err)
		t.Cleanup(v.Close)
		_, err = v.Ready(context.Background())
		require.ErrorContains(t, err, "no usable verification key")
		require.ErrorContains(t, err, "ROCA")
	})

	t.Run("GeneratedKeysPass", func(t *testing.T) {
		t.Parallel()
		var keys []map[string]any
		for i, bits := range []int{2048, 3072, 4096} {
			keys = append(keys, testkit.PublicJWK(&testkit.RSAKey(t, bits).PublicKey, fmt.Sprint(i), nil))
		}
		set, err := jwtauth.ParseJWKS(testkit.JWKS(keys...))
		require.NoError(t, err)
		require.Equal(t, 3, set.Len(), "%v", set.Skipped())
	})
}

// TestRequireAccessTokenType: with RequireAccessTokenType only at+jwt and
// application/at+jwt, in any case, are accepted (RFC 9068 section 4, RFC
// 7515 section 4.1.9); without it JWT and a missing typ are accepted too.
func TestRequireAccessTokenType(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	doc := testkit.JWKS(testkit.PublicJWK(&kit.Key.PublicKey, kit.KID, nil))
	tests := []struct {
		name              string
		typ               any // nil: no typ
		strict, byDefault bool
	}{
		{"AtJWT", "at+jwt", true, true},
		{"AtJWTUpper", "AT+JWT", true, true},
		{"MediaType", "application/at+jwt", true, true},
		{"MediaTypeMixedCase", "Application/At+JWT", true, true},
		{"JWT", "JWT", false, true},
		{"JWTLower", "jwt", false, true},
		{"Missing", nil, false, true},
		{"ApplicationJWT", "application/jwt", false, false},
		{"Empty", "", false, false},
		{"WithParameter", "application/at+jwt; charset=utf-8", false, false},
		{"Padded", " at+jwt", false, false},
		{"OtherPrefix", "text/at+jwt", false, false},
		{"Number", 1, false, false},
		{"JOSE", "JOSE", false, false},
	}
	strict := bothSources(t, kit, doc, func(c *jwtauth.Config) { c.RequireAccessTokenType = true }, nil)
	lenient := bothSources(t, kit, doc, nil, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := map[string]any{"alg": "ES256", "kid": kit.KID}
			if tt.typ != nil {
				h["typ"] = tt.typ
			}
			tok := kit.Sign(h, testkit.Claims(testkit.ClientA))
			for _, c := range []struct {
				name string
				vs   map[string]*jwtauth.Verifier
				ok   bool
			}{{"Required", strict, tt.strict}, {"Default", lenient, tt.byDefault}} {
				for path, v := range c.vs {
					_, err := v.Verify(context.Background(), tok)
					if c.ok {
						require.NoError(t, err, "%s %s", c.name, path)
					} else {
						requireRefused(t, err, "header not accepted")
					}
				}
			}
		})
	}
}
