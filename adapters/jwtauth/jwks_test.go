package jwtauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/testkit"
)

var b64 = base64.RawURLEncoding.EncodeToString

// jwksServer serves the document *doc points to, on 127.0.0.1.
func serveJWKS(t *testing.T, doc *atomic.Pointer[[]byte]) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*doc.Load())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// paths builds one verifier reading doc from a file and one fetching it
// from a URL, with the allow-list algs (nil: the default); both must judge
// every key the same way.
func paths(t *testing.T, kit *testkit.Kit, doc []byte, algs []string, logger *zap.Logger) map[string]*jwtauth.Verifier {
	t.Helper()
	return bothSources(t, kit, doc, func(c *jwtauth.Config) {
		if algs != nil {
			c.Algorithms = algs
		}
	}, logger)
}

func header(alg, kid string) map[string]any {
	return map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"}
}

func flipLowBit(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i^1])
}

// TestJWKMembers has one case per JWK member and encoding rule the verifier
// relies on. A usable key verifies its token; an unusable one is skipped,
// named with its reason in Ready, and its token refused. Each case runs
// through the JWKS file and the JWKS URL (issue: both must validate alike).
func TestJWKMembers(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	ec, rsaKey, ed := &kit.Key.PublicKey, &kit.RSA.PublicKey, kit.Ed.Public()
	rsaJWK := testkit.PublicJWK(rsaKey, "t", nil)
	ecJWK := testkit.PublicJWK(ec, "t", nil)
	edJWK := testkit.PublicJWK(ed, "t", nil)
	claims := testkit.Claims(testkit.ClientA)
	rsTok := testkit.SignWith(kit.RSA, header("RS256", "t"), claims)
	esTok := testkit.SignWith(kit.Key, header("ES256", "t"), claims)
	edTok := testkit.SignWith(kit.Ed, header("EdDSA", "t"), claims)
	small := func(bits int) (map[string]any, string) {
		k := testkit.RSAKey(t, bits)
		return testkit.PublicJWK(&k.PublicKey, "t", nil), testkit.SignWith(k, header("RS256", "t"), claims)
	}
	jwk1024, tok1024 := small(1024)
	jwk2040, tok2040 := small(2040)
	jwk2047, tok2047 := small(2047)
	n := kit.RSA.N.Bytes()
	ecRaw, err := kit.Key.PublicKey.Bytes()
	require.NoError(t, err)
	x, y := ecRaw[1:33], ecRaw[33:]
	offCurve := append([]byte{}, y...)
	offCurve[31] ^= 1

	tests := []struct {
		name, rfc string
		jwk       map[string]any
		token     string
		usable    bool
		reason    string // part of the skip reason
	}{
		// use (RFC 7517 section 4.2)
		{"UseSig", "RFC 7517 §4.2", testkit.With(rsaJWK, map[string]any{"use": "sig"}), rsTok, true, ""},
		{"UseEncNoAlg", "RFC 7517 §4.2", testkit.With(rsaJWK, map[string]any{"use": "enc"}), rsTok, false, `"use" is "enc"`},
		{"UseEncWithAlg", "RFC 7517 §4.2", testkit.With(rsaJWK, map[string]any{"use": "enc", "alg": "RS256"}), rsTok, false, `"use" is "enc"`},
		{"UseUnregistered", "RFC 7517 §4.2", testkit.With(rsaJWK, map[string]any{"use": "signature"}), rsTok, false, `"use" is "signature"`},
		{"UseEmpty", "RFC 7517 §4.2", testkit.With(rsaJWK, map[string]any{"use": ""}), rsTok, false, `"use" is ""`},
		{"UseCaseVariant", "RFC 7517 §4.2", testkit.With(rsaJWK, map[string]any{"use": "SIG"}), rsTok, false, `"use" is "SIG"`},
		{"UseNotString", "RFC 7517 §4.2", testkit.With(rsaJWK, map[string]any{"use": 1}), rsTok, false, "not a JWK object"},
		{"UseEncOnEC", "RFC 7517 §4.2", testkit.With(ecJWK, map[string]any{"use": "enc"}), esTok, false, `"use" is "enc"`},
		{"UseEncOnEd25519", "RFC 7517 §4.2", testkit.With(edJWK, map[string]any{"use": "enc"}), edTok, false, `"use" is "enc"`},
		// key_ops (RFC 7517 section 4.3)
		{"KeyOpsVerify", "RFC 7517 §4.3", testkit.With(rsaJWK, map[string]any{"key_ops": []string{"verify"}}), rsTok, true, ""},
		{"KeyOpsSignVerify", "RFC 7517 §4.3", testkit.With(rsaJWK, map[string]any{"key_ops": []string{"sign", "verify"}}), rsTok, true, ""},
		{"KeyOpsSignOnly", "RFC 7517 §4.3", testkit.With(rsaJWK, map[string]any{"key_ops": []string{"sign"}}), rsTok, false, `does not include "verify"`},
		{"KeyOpsEncrypt", "RFC 7517 §4.3", testkit.With(rsaJWK, map[string]any{"key_ops": []string{"encrypt", "wrapKey"}}), rsTok, false, `does not include "verify"`},
		{"KeyOpsEmpty", "RFC 7517 §4.3", testkit.With(rsaJWK, map[string]any{"key_ops": []string{}}), rsTok, false, `does not include "verify"`},
		{"KeyOpsRepeated", "RFC 7517 §4.3", testkit.With(rsaJWK, map[string]any{"key_ops": []string{"verify", "verify"}}), rsTok, false, "repeats"},
		{"KeyOpsNotArray", "RFC 7517 §4.3", testkit.With(rsaJWK, map[string]any{"key_ops": "verify"}), rsTok, false, "not a JWK object"},
		{"KeyOpsCaseVariant", "RFC 7517 §4.3", testkit.With(rsaJWK, map[string]any{"key_ops": []string{"Verify"}}), rsTok, false, `does not include "verify"`},
		// use and key_ops together must agree (RFC 7517 section 4.3)
		{"UseSigKeyOpsVerify", "RFC 7517 §4.3", testkit.With(rsaJWK, map[string]any{"use": "sig", "key_ops": []string{"verify"}}), rsTok, true, ""},
		{"UseSigKeyOpsVerifyEncrypt", "RFC 7517 §4.3", testkit.With(rsaJWK, map[string]any{"use": "sig", "key_ops": []string{"verify", "encrypt"}}), rsTok, false, "disagrees"},
		{"UseSigKeyOpsDecrypt", "RFC 7517 §4.3", testkit.With(rsaJWK, map[string]any{"use": "sig", "key_ops": []string{"decrypt"}}), rsTok, false, "disagrees"},
		{"UseEncKeyOpsVerify", "RFC 7517 §4.3", testkit.With(rsaJWK, map[string]any{"use": "enc", "key_ops": []string{"verify"}}), rsTok, false, `"use" is "enc"`},
		// alg (RFC 7517 section 4.4, RFC 7518 section 3.1)
		{"AlgMatches", "RFC 7517 §4.4", testkit.With(rsaJWK, map[string]any{"alg": "RS256"}), rsTok, true, ""},
		{"AlgOfAnotherFamily", "RFC 7518 §3.1", testkit.With(rsaJWK, map[string]any{"alg": "ES256"}), rsTok, false, `alg "ES256" does not fit`},
		{"AlgForEncryption", "RFC 7518 §4.1", testkit.With(rsaJWK, map[string]any{"alg": "RSA-OAEP"}), rsTok, false, `alg "RSA-OAEP" is not a supported`},
		{"AlgSymmetric", "RFC 8725 §3.1", testkit.With(rsaJWK, map[string]any{"alg": "HS256"}), rsTok, false, `alg "HS256" is not a supported`},
		{"AlgNone", "RFC 8725 §3.1", testkit.With(rsaJWK, map[string]any{"alg": "none"}), rsTok, false, `alg "none" is not a supported`},
		{"AlgES384OnP256", "RFC 7518 §3.4", testkit.With(ecJWK, map[string]any{"alg": "ES384"}), esTok, false, `alg "ES384" does not fit a EC P-256`},
		{"AlgEdDSAOnEC", "RFC 8037 §3.1", testkit.With(ecJWK, map[string]any{"alg": "EdDSA"}), esTok, false, `alg "EdDSA" does not fit`},
		{"AlgES256OnEd25519", "RFC 8037 §3.1", testkit.With(edJWK, map[string]any{"alg": "ES256"}), edTok, false, `alg "ES256" does not fit`},
		// RSA key size (RFC 7518 section 3.3)
		{"RSA2048", "RFC 7518 §3.3", rsaJWK, rsTok, true, ""},
		{"RSA1024", "RFC 7518 §3.3", jwk1024, tok1024, false, "RSA key is 1024 bits"},
		{"RSA2040", "RFC 7518 §3.3", jwk2040, tok2040, false, "RSA key is 2040 bits"},
		{"RSA2047", "RFC 7518 §3.3", jwk2047, tok2047, false, "RSA key is 2047 bits"},
		// RSA members: Base64urlUInt (RFC 7518 sections 2, 6.3.1)
		{"RSAExponentOver64Bits", "RFC 7518 §6.3.1.2", testkit.With(rsaJWK, map[string]any{"e": "AQABAAAAAAABAAE"}), rsTok, false, "RSA exponent"},
		{"RSAExponentOver32Bits", "RFC 7518 §6.3.1.2", testkit.With(rsaJWK, map[string]any{"e": "AQABAAE"}), rsTok, false, "RSA exponent"},
		{"RSAExponent2To31Plus1", "RFC 7518 §6.3.1.2", testkit.With(rsaJWK, map[string]any{"e": b64([]byte{0x80, 0, 0, 1})}), rsTok, false, "RSA exponent"},
		{"RSAExponentOne", "RFC 7518 §6.3.1.2", testkit.With(rsaJWK, map[string]any{"e": "AQ"}), rsTok, false, "RSA exponent"},
		{"RSAExponentTwo", "RFC 7518 §6.3.1.2", testkit.With(rsaJWK, map[string]any{"e": "Ag"}), rsTok, false, "RSA exponent"},
		{"RSAExponentEven", "RFC 7518 §6.3.1.2", testkit.With(rsaJWK, map[string]any{"e": "AQAA"}), rsTok, false, "RSA exponent"},
		{"RSAExponentZero", "RFC 7518 §2", testkit.With(rsaJWK, map[string]any{"e": "AA"}), rsTok, false, "leading zero"},
		{"RSAExponentLeadingZero", "RFC 7518 §2", testkit.With(rsaJWK, map[string]any{"e": "AAEAAQ"}), rsTok, false, "leading zero"},
		{"RSAExponentMissing", "RFC 7518 §6.3.1.2", testkit.With(rsaJWK, map[string]any{"e": nil}), rsTok, false, `no "e"`},
		{"RSAModulusLeadingZero", "RFC 7518 §6.3.1.1", testkit.With(rsaJWK, map[string]any{"n": b64(append([]byte{0}, n...))}), rsTok, false, "leading zero"},
		{"RSAModulusMissing", "RFC 7518 §6.3.1.1", testkit.With(rsaJWK, map[string]any{"n": nil}), rsTok, false, `no "n"`},
		{"RSAModulusNumber", "RFC 7518 §6.3.1.1", testkit.With(rsaJWK, map[string]any{"n": 12345}), rsTok, false, "not a JWK object"},
		// base64url of key members (RFC 7515 section 2, RFC 7517 section 1.1)
		{"Base64Padded", "RFC 7515 §2", testkit.With(rsaJWK, map[string]any{"n": b64(n) + "=="}), rsTok, false, "not unpadded base64url"},
		{"Base64StandardAlphabet", "RFC 7515 §2", testkit.With(rsaJWK, map[string]any{"n": base64.RawStdEncoding.EncodeToString(n)}), rsTok, base64.RawStdEncoding.EncodeToString(n) == b64(n), "not unpadded base64url"},
		{"Base64LineBreak", "RFC 7515 §2", testkit.With(rsaJWK, map[string]any{"n": b64(n)[:64] + "\n" + b64(n)[64:]}), rsTok, false, "not unpadded base64url"},
		{"Base64NonCanonicalBits", "RFC 7515 §2", testkit.With(rsaJWK, map[string]any{"n": flipLowBit(b64(n))}), rsTok, false, "not canonical base64url"},
		{"Base64Empty", "RFC 7515 §2", testkit.With(rsaJWK, map[string]any{"e": ""}), rsTok, false, "not canonical base64url"},
		{"Base64ECPadded", "RFC 7515 §2", testkit.With(ecJWK, map[string]any{"x": b64(x) + "="}), esTok, false, "not unpadded base64url"},
		{"Base64EdNonCanonicalBits", "RFC 7515 §2", testkit.With(edJWK, map[string]any{"x": flipLowBit(edJWK["x"].(string))}), edTok, false, "not canonical base64url"},
		// EC members (RFC 7518 section 6.2.1)
		{"ECValid", "RFC 7518 §6.2.1", ecJWK, esTok, true, ""},
		{"ECMissingY", "RFC 7518 §6.2.1.3", testkit.With(ecJWK, map[string]any{"y": nil}), esTok, false, `no "y"`},
		{"ECMissingX", "RFC 7518 §6.2.1.2", testkit.With(ecJWK, map[string]any{"x": nil}), esTok, false, `no "x"`},
		{"ECMissingCurve", "RFC 7518 §6.2.1.1", testkit.With(ecJWK, map[string]any{"crv": nil}), esTok, false, `"crv" ""`},
		{"ECUnknownCurve", "RFC 7518 §6.2.1.1", testkit.With(ecJWK, map[string]any{"crv": "secp256k1"}), esTok, false, `"crv" "secp256k1"`},
		{"ECCurveOfOtherSize", "RFC 7518 §6.2.1.2", testkit.With(ecJWK, map[string]any{"crv": "P-384"}), esTok, false, "needs exactly 48"},
		{"ECCoordinateLeadingZero", "RFC 7518 §6.2.1.2", testkit.With(ecJWK, map[string]any{"x": b64(append([]byte{0}, x...))}), esTok, false, "needs exactly 32"},
		{"ECCoordinateShort", "RFC 7518 §6.2.1.2", testkit.With(ecJWK, map[string]any{"y": b64(y[1:])}), esTok, false, "needs exactly 32"},
		{"ECPointNotOnCurve", "RFC 7518 §6.2.1", testkit.With(ecJWK, map[string]any{"y": b64(offCurve)}), esTok, false, "not on P-256"},
		{"ECPointAtInfinity", "RFC 7518 §6.2.1", testkit.With(ecJWK, map[string]any{"x": b64(make([]byte, 32)), "y": b64(make([]byte, 32))}), esTok, false, "not on P-256"},
		// OKP members (RFC 8037 section 2)
		{"Ed25519Valid", "RFC 8037 §2", edJWK, edTok, true, ""},
		{"Ed448", "RFC 8037 §2", testkit.With(edJWK, map[string]any{"crv": "Ed448", "x": b64(make([]byte, 57))}), edTok, false, `"crv" "Ed448"`},
		{"X25519", "RFC 8037 §2", testkit.With(edJWK, map[string]any{"crv": "X25519"}), edTok, false, `"crv" "X25519"`},
		{"Ed25519Short", "RFC 8037 §2", testkit.With(edJWK, map[string]any{"x": b64(kit.Ed.Public().(ed25519.PublicKey)[:31])}), edTok, false, "is 31 octets"},
		// kty (RFC 7517 section 4.1, RFC 7518 section 6.1)
		{"KtyMissing", "RFC 7517 §4.1", testkit.With(rsaJWK, map[string]any{"kty": nil}), rsTok, false, `no "kty"`},
		{"KtyUnknown", "RFC 7518 §6.1", testkit.With(rsaJWK, map[string]any{"kty": "XYZ"}), rsTok, false, `unknown "kty" "XYZ"`},
		{"KtyCaseVariant", "RFC 7518 §6.1", testkit.With(rsaJWK, map[string]any{"kty": "rsa"}), rsTok, false, `unknown "kty" "rsa"`},
		{"KtyOct", "RFC 8725 §3.1", map[string]any{"kty": "oct", "kid": "t", "k": b64([]byte("secret"))}, rsTok, false, `"kty":"oct"`},
		// kid (RFC 7517 section 4.5)
		{"KidEmpty", "RFC 7517 §4.5", testkit.With(rsaJWK, map[string]any{"kid": ""}), rsTok, false, `"kid" is empty`},
		{"KidNotString", "RFC 7517 §4.5", testkit.With(rsaJWK, map[string]any{"kid": 7}), rsTok, false, "not a JWK object"},
	}
	filler := testkit.PublicJWK(ec, kit.KID, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for path, v := range paths(t, kit, testkit.JWKS(tt.jwk, filler), nil, nil) {
				ctx := context.Background()
				_, err := v.Verify(ctx, tt.token)
				detail, rerr := v.Ready(ctx)
				require.NoError(t, rerr, path)
				if tt.usable {
					require.NoError(t, err, "%s (%s): a usable key verifies its token", path, tt.rfc)
					require.Zero(t, v.SkippedKeys(), path)
					continue
				}
				require.Error(t, err, "%s (%s): an unusable key verifies nothing", path, tt.rfc)
				require.Contains(t, detail, tt.reason, "%s (%s)", path, tt.rfc)
				require.Contains(t, detail, "key 0 (", path)
				require.Equal(t, uint64(1), v.SkippedKeys(), path)
			}
		})
	}
}

// TestDuplicateKID: RFC 7517 section 4.5 lets keys of different types share
// a kid; two keys of one type under one kid are ambiguous and neither is used.
func TestDuplicateKID(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	other := testkit.ECKey(t, elliptic.P256())
	claims := testkit.Claims(testkit.ClientA)
	filler := testkit.PublicJWK(kit.Ed.Public(), kit.EdKID, nil)
	t.Run("SameType", func(t *testing.T) {
		t.Parallel()
		doc := testkit.JWKS(testkit.PublicJWK(&kit.Key.PublicKey, "t", nil), testkit.PublicJWK(&other.PublicKey, "t", nil), filler)
		for path, v := range paths(t, kit, doc, nil, nil) {
			for _, key := range []*ecdsa.PrivateKey{kit.Key, other} {
				_, err := v.Verify(context.Background(), testkit.SignWith(key, header("ES256", "t"), claims))
				require.Error(t, err, path)
			}
			detail, err := v.Ready(context.Background())
			require.NoError(t, err)
			require.Contains(t, detail, `key 0 (kid "t"): kid is shared with key 1`, path)
			require.Contains(t, detail, `key 1 (kid "t"): kid is shared with another EC key`, path)
		}
	})
	t.Run("DifferentTypes", func(t *testing.T) {
		t.Parallel()
		doc := testkit.JWKS(testkit.PublicJWK(&kit.Key.PublicKey, "t", nil), testkit.PublicJWK(&kit.RSA.PublicKey, "t", nil))
		for path, v := range paths(t, kit, doc, nil, nil) {
			_, err := v.Verify(context.Background(), testkit.SignWith(kit.Key, header("ES256", "t"), claims))
			require.NoError(t, err, path)
			_, err = v.Verify(context.Background(), testkit.SignWith(kit.RSA, header("RS256", "t"), claims))
			require.NoError(t, err, path)
			require.Zero(t, v.SkippedKeys(), path)
		}
	})
}

// TestWidenedAllowList: with every supported algorithm allowed, ES384 and
// ES512 are tied to P-384 and P-521 whatever the JWK says (RFC 7518 section
// 3.4), and PS256/384/512 take only a salt as long as the hash (section 3.5).
func TestWidenedAllowList(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	p384 := testkit.ECKey(t, elliptic.P384())
	p521 := testkit.ECKey(t, elliptic.P521())
	doc := testkit.JWKS(
		testkit.PublicJWK(&kit.Key.PublicKey, "p256", nil),
		testkit.PublicJWK(&p384.PublicKey, "p384", nil),
		testkit.PublicJWK(&p521.PublicKey, "p521", nil),
		testkit.PublicJWK(&kit.RSA.PublicKey, "rsa", nil),
		testkit.PublicJWK(kit.Ed.Public(), "ed", nil),
		testkit.PublicJWK(&kit.RSA.PublicKey, "rs384", map[string]any{"alg": "RS384"}),
	)
	claims := testkit.Claims(testkit.ClientA)
	sign := func(key crypto.Signer, alg, kid string) string {
		return testkit.SignWith(key, header(alg, kid), claims)
	}
	pss := func(alg string, salt int) string {
		return testkit.SignPSSSalt(kit.RSA, header(alg, "rsa"), claims, salt)
	}
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"ES256OnP256", sign(kit.Key, "ES256", "p256"), true},
		{"ES384OnP384", sign(p384, "ES384", "p384"), true},
		{"ES512OnP521", sign(p521, "ES512", "p521"), true},
		{"ES384OnP256", sign(kit.Key, "ES384", "p256"), false},
		{"ES512OnP256", sign(kit.Key, "ES512", "p256"), false},
		{"ES512OnP384", sign(p384, "ES512", "p384"), false},
		{"ES256OnP384", sign(p384, "ES256", "p384"), false},
		{"ES384OnP521", sign(p521, "ES384", "p521"), false},
		{"RS256", sign(kit.RSA, "RS256", "rsa"), true},
		{"RS384", sign(kit.RSA, "RS384", "rsa"), true},
		{"RS512", sign(kit.RSA, "RS512", "rsa"), true},
		{"PS256SaltHashLength", pss("PS256", rsa.PSSSaltLengthEqualsHash), true},
		{"PS384SaltHashLength", pss("PS384", rsa.PSSSaltLengthEqualsHash), true},
		{"PS512SaltHashLength", pss("PS512", rsa.PSSSaltLengthEqualsHash), true},
		{"PS256SaltEmpty", pss("PS256", 0), false},
		{"PS256SaltMaximal", pss("PS256", rsa.PSSSaltLengthAuto), false},
		{"PS256SaltShorter", pss("PS256", 20), false},
		{"PS384SaltOfSHA256", pss("PS384", 32), false},
		{"PS512SaltOfSHA384", pss("PS512", 48), false},
		{"PS512SaltEmpty", pss("PS512", 0), false},
		{"PS256OnECKey", testkit.SignPSSSalt(kit.RSA, header("PS256", "p256"), claims, rsa.PSSSaltLengthEqualsHash), false},
		{"JWKAlgMatches", sign(kit.RSA, "RS384", "rs384"), true},
		{"JWKAlgOtherThanToken", sign(kit.RSA, "RS256", "rs384"), false},
		{"JWKAlgOtherThanTokenPSS", testkit.SignWith(kit.RSA, header("PS384", "rs384"), claims), false},
		{"EdDSAOnEd25519", sign(kit.Ed, "EdDSA", "ed"), true},
		{"EdDSAOnECKid", sign(kit.Ed, "EdDSA", "p256"), false},
	}
	verifiers := paths(t, kit, doc, jwtauth.SupportedAlgorithms, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for path, v := range verifiers {
				_, err := v.Verify(context.Background(), tt.token)
				if tt.ok {
					require.NoError(t, err, path)
				} else {
					require.Error(t, err, path)
				}
			}
		})
	}
}

// TestInvalidUTF8 refuses a JOSE header or claims that are not valid UTF-8
// JSON (RFC 7515 section 5.2, RFC 7519 section 7.2, RFC 8259 section 8).
func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	v, kit := setup(t)
	payload := func(sub string) []byte {
		return []byte(strings.Replace(string(mustJSON(t, testkit.Claims(testkit.ClientA))), `"doctor-1"`, `"`+sub+`"`, 1))
	}
	head := func(note string) []byte {
		return []byte(`{"alg":"ES256","typ":"at+jwt","kid":"` + kit.KID + `","note":"` + note + `"}`)
	}
	tests := []struct {
		name    string
		header  []byte
		payload []byte
		reason  string // "" when accepted
		subject string
	}{
		{"ClaimByteFF", head("x"), payload("doctor-\xff"), "malformed claims", ""},
		{"ClaimOverlong", head("x"), payload("doctor-\xc0\xaf"), "malformed claims", ""},
		{"ClaimEncodedSurrogate", head("x"), payload("doctor-\xed\xa0\x80"), "malformed claims", ""},
		{"ClaimTruncatedSequence", head("x"), payload("doctor-\xe2\x82"), "malformed claims", ""},
		{"ClaimLoneHighSurrogateEscape", head("x"), payload(`doctor-\ud800`), "malformed claims", ""},
		{"ClaimLoneLowSurrogateEscape", head("x"), payload(`doctor-\udc00`), "malformed claims", ""},
		{"ClaimReversedSurrogates", head("x"), payload(`doctor-\udc00\ud800`), "malformed claims", ""},
		{"ClaimHighSurrogateThenLetter", head("x"), payload(`doctor-\ud800\u0041`), "malformed claims", ""},
		{"HeaderByteFF", head("\xff"), payload("doctor-1"), "malformed", ""},
		{"HeaderLoneSurrogateEscape", head(`\ud800`), payload("doctor-1"), "malformed", ""},
		{"ClaimTwoByteUTF8", head("x"), payload("doctor-é"), "", "doctor-é"},
		{"ClaimEscapedBMP", head("x"), payload(`doctor-\u00e9`), "", "doctor-é"},
		{"ClaimSurrogatePair", head("x"), payload(`doctor-\ud83d\ude00`), "", "doctor-😀"},
		{"HeaderFourByteUTF8", head("😀"), payload("doctor-1"), "", "doctor-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			input := testkit.Segment(tt.header) + "." + testkit.Segment(tt.payload)
			token := input + "." + b64(kit.SignBytes("ES256", []byte(input)))
			p, err := v.Verify(context.Background(), token)
			if tt.reason == "" {
				require.NoError(t, err)
				require.Equal(t, tt.subject, p.Subject)
				return
			}
			requireRefused(t, err, tt.reason)
		})
	}
}

// TestScopeGrammar: RFC 6749 section 3.3 scope tokens are %x21 / %x23-5B /
// %x5D-7E separated by one %x20; a claim that breaks the grammar grants
// nothing, so the read scope is missing (403), never partly granted.
func TestScopeGrammar(t *testing.T) {
	t.Parallel()
	v, kit := setup(t)
	tests := []struct {
		scope string
		want  []string
	}{
		{"composition:read", []string{"composition:read"}},
		{"openid composition:read", []string{"openid", "composition:read"}},
		{"!#[]~ composition:read", []string{"!#[]~", "composition:read"}},
		{"", nil},
		{"openid\tcomposition:read", nil},
		{"openid\ncomposition:read", nil},
		{"openid\rcomposition:read", nil},
		{"openid\vcomposition:read", nil},
		{"openid\fcomposition:read", nil},
		{"openid\u00a0composition:read", nil},
		{"openid\u2003composition:read", nil},
		{"openid  composition:read", nil},
		{" composition:read", nil},
		{"composition:read ", nil},
		{" ", nil},
		{`composition:read "quoted"`, nil},
		{`composition:read back\slash`, nil},
		{"composition:read caf\u00e9", nil},
		{"composition:read \x7f", nil},
		{"composition:read \x00", nil},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(strings.ReplaceAll(tt.scope, " ", "_"), "/", "%"), func(t *testing.T) {
			t.Parallel()
			c := testkit.Claims(testkit.ClientA)
			c["scope"] = tt.scope
			p, err := v.Verify(context.Background(), kit.Sign(kit.Header(), c))
			require.NoError(t, err, "the token is valid; only its scope grants nothing")
			require.Equal(t, tt.want, p.Scopes)
			var forbidden *domain.ForbiddenError
			if !slices.Contains(tt.want, domain.ScopeCompositionRead) {
				require.True(t, errors.As(p.Require(domain.ScopeCompositionRead), &forbidden))
			}
		})
	}
}

// TestOneBadKeyKeepsTheRest: an unusable key is skipped, logged with its kid
// and counted, and the other keys keep verifying (RFC 7517 section 5), from
// the file and from the URL alike.
func TestOneBadKeyKeepsTheRest(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	good := testkit.PublicJWK(&kit.Key.PublicKey, kit.KID, nil)
	ecBad := testkit.PublicJWK(&kit.Key.PublicKey, "bad", map[string]any{"y": nil})
	tests := []struct {
		name string
		bad  map[string]any
	}{
		{"ECMissingY", ecBad},
		{"UnknownKty", map[string]any{"kty": "XYZ", "kid": "bad"}},
		{"Ed448", map[string]any{"kty": "OKP", "crv": "Ed448", "kid": "bad", "x": b64(make([]byte, 57))}},
		{"RSAExponentOne", testkit.PublicJWK(&kit.RSA.PublicKey, "bad", map[string]any{"e": "AQ"})},
		{"NotAnObject", nil},
		{"UseEnc", testkit.PublicJWK(&kit.RSA.PublicKey, "bad", map[string]any{"use": "enc"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			core, logs := observer.New(zapcore.WarnLevel)
			doc := testkit.JWKS(tt.bad, good)
			for path, v := range paths(t, kit, doc, nil, zap.New(core)) {
				_, err := v.Verify(context.Background(), kit.Token(testkit.ClientA))
				require.NoError(t, err, path)
				detail, err := v.Ready(context.Background())
				require.NoError(t, err, path)
				require.Contains(t, detail, "1 verification keys, 1 skipped", path)
				require.Equal(t, uint64(1), v.SkippedKeys(), path)
			}
			warned := logs.FilterMessage("JWKS key skipped").All()
			require.Len(t, warned, 2, "one warning per path")
			for _, e := range warned {
				require.NotEmpty(t, e.ContextMap()["reason"])
				if tt.bad != nil {
					require.Equal(t, "bad", e.ContextMap()["kid"])
				}
			}
		})
	}
}

// TestNoUsableKey: a set with no usable verification key is not ready and
// says why; from a file it is a start error on one line naming the file and
// each key.
func TestNoUsableKey(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	oct := map[string]any{"kty": "oct", "kid": "hmac", "k": b64([]byte("secret"))}
	small := testkit.PublicJWK(&testkit.RSAKey(t, 1024).PublicKey, "small", nil)
	doc := testkit.JWKS(oct, small)

	cfg := kit.VerifierConfig()
	cfg.JWKSFile = testkit.WriteJWKS(t, t.TempDir(), doc)
	_, err := jwtauth.NewVerifier(cfg, nil)
	require.Error(t, err)
	msg := err.Error()
	require.NotContains(t, msg, "\n")
	require.Contains(t, msg, cfg.JWKSFile)
	require.Contains(t, msg, `key 0 (kid "hmac"): "kty":"oct"`)
	require.Contains(t, msg, `key 1 (kid "small"): RSA key is 1024 bits`)

	var served atomic.Pointer[[]byte]
	served.Store(&doc)
	srv := serveJWKS(t, &served)
	cfg = kit.URLConfig(srv.URL)
	v, err := jwtauth.NewVerifier(cfg, nil)
	require.NoError(t, err, "a URL may get good keys later")
	t.Cleanup(v.Close)
	_, err = v.Ready(context.Background())
	require.ErrorContains(t, err, "no usable verification key")
	require.ErrorContains(t, err, `key 0 (kid "hmac")`)
}

// TestBadJWKSFileIsOneLine: a JWKS file that cannot be used is reported in
// one line naming the file and what is wrong.
func TestBadJWKSFileIsOneLine(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	for name, doc := range map[string]string{
		"NotJSON":      `{"keys":[`,
		"NoKeysMember": `{"kty":"RSA"}`,
		"KeysNotArray": `{"keys":{}}`,
		"EmptyKeys":    `{"keys":[]}`,
		"InvalidUTF8":  "{\"keys\":[],\"x\":\"\xff\"}",
		"OnlyBadKeys":  `{"keys":[{"kty":"EC","kid":"k1","crv":"P-256","x":"AAAA"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := kit.VerifierConfig()
			cfg.JWKSFile = testkit.WriteJWKS(t, t.TempDir(), []byte(doc))
			_, err := jwtauth.NewVerifier(cfg, nil)
			require.Error(t, err)
			require.NotContains(t, err.Error(), "\n")
			require.Contains(t, err.Error(), cfg.JWKSFile)
		})
	}
}

// requireRefused asserts err is the token refusal logged with reason.
func requireRefused(t *testing.T, err error, reason string) {
	t.Helper()
	var authErr *domain.AuthError
	require.True(t, errors.As(err, &authErr), "want AuthError, got %v", err)
	require.Equal(t, domain.CredentialToken, authErr.Credential)
	require.Equal(t, reason, authErr.Reason)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return raw
}
