package testkit

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"math/big"
)

// Published keys, private parts included, so tests can sign their own
// tokens with them. Each JWK is kept as its source publishes it.

// RFC7515A3JWK is RFC 7515 Appendix A.3's ES256 public key, published
// without "kid".
func RFC7515A3JWK() map[string]any {
	return map[string]any{"kty": "EC", "crv": "P-256",
		"x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
		"y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
}

// RFC7515A3Key is the private key of RFC7515A3JWK ("d" of Appendix A.3).
func RFC7515A3Key() *ecdsa.PrivateKey {
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), unb64("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"))
	if err != nil {
		panic(err)
	}
	return k
}

// rfc7515A2 is RFC 7515 Appendix A.2's RS256 key (n, e, d and p; q is n/p).
var rfc7515A2 = map[string]string{
	"n": "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
	"e": "AQAB",
	"d": "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ",
	"p": "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc",
}

// RFC7515A2JWK is RFC 7515 Appendix A.2's RS256 public key, published
// without "kid".
func RFC7515A2JWK() map[string]any {
	return map[string]any{"kty": "RSA", "n": rfc7515A2["n"], "e": rfc7515A2["e"]}
}

// RFC7515A2Key is the private key of RFC7515A2JWK.
func RFC7515A2Key() *rsa.PrivateKey {
	return rsaKeyOf(rfc7515A2)
}

// RFC8037JWK is RFC 8037 Appendix A.2's Ed25519 public key, published
// without "kid".
func RFC8037JWK() map[string]any {
	return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
}

// RFC8037Key is the private key of RFC8037JWK (Appendix A.1's "d").
func RFC8037Key() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(unb64("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"))
}

// rocaJWK is Project Wycheproof's json_web_key_test.json group
// "jws_rsa_roca_key" (test "rejectsKeyWithRocaVulnerability"): an RSA key
// with the ROCA weakness (CVE-2017-15361).
var rocaJWK = map[string]string{
	"n": "AanFpofbj7KjD4Lf-N2hVMKR7yewSyXhhbirIMTGpfYEhZ_lnt5UoK98DnKIgArXGTu3MaW_HhFw16HGaTDUHqPrId7fe4r11CqRw09yBFuW79V8sYIwHdzCaWflUI6auImYbVfoN9_nD5n8N8SY9DwXw7mwZM9wREPXoDPgOoIWl6q_MPsp7n0zs3Z5ZaiQWOOzl1S9OhwAfSiiOwz6efnXEaxuTEtPd7BjSx7NaFka8Dx9U7YqXy2RFj1O9PjyaDGuRh7YXsX3iMUSP_wSyHQg_c_qHRtKUsNSGCT7OZg0hzm2KphtjnayKJvC64vAbROBR4Ubg6Bxg9IQVZ-QYyE",
	"e": "AQAB",
	"d": "NGpEqgz5j8BLNI1mEcK-sIVOr9AgMDWnRKisjAz4eWTtHlYiTLSWY4QeMzNir_LzBEr1LbZteTAvG5dVc9FpRDy6Grngd6bzy5nONYWPy8a1F88V-zT5OCgm2cd9N1EMzsOZEm1gE4xae1Z1dxptVsiGK-HvRypG_SMacch063aSDM46Asvao8PjqWGy-ZGwnaprx5ME4ZWRMKtov8BVMvkrs1KeM7TtjMg27hvreTueu8fbgNc9U93S2sWjw_4YvS72idsM95e-MCNwhKkrfufNhc5-8-pxD6cbiu8BnG4gR0vuQUNJFx16BsskC7JgOwEUhUg1Q0pYYj3DA54OwQ",
	"p": "ARXNC8pC9mwATep-hd8UJIPF-zxRT3SLSo-oqcfvsfxh31YwlKtfIx7TZgXY1Zqva9zzxJZYxR1XrJp3M0Ny5yRSz04EE7tOjSC3-vR2oIGtkWPFUUF4VpEwrDzqPrZa7JKY-ZJ0qchxLYwzKj7LgEA2HY8l1GBQzHYqqbblMNyF",
	"q": "AYhb2gXYokQugcoSDcl9jeeqwpccV-1Fv93RTtaFMoDJ5kJipWpmTIuT06ZLVc0-2FNl9U3HaiNnHgT07Sjnllj2XGBH5tFT-2u8UUby7QEX8I5QRrdCs6FEtoIxY-eGZWD5MbF8bwrdE1xuhk7dvxlGcEzsAqWMU1ORoRdCZgzt",
}

// WycheproofROCAJWK is the public JWK of Wycheproof's ROCA test key, as
// published: kid "kid-rsa-roca-sign", alg RS256, use sig.
func WycheproofROCAJWK() map[string]any {
	return map[string]any{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "kid-rsa-roca-sign",
		"n": rocaJWK["n"], "e": rocaJWK["e"]}
}

// WycheproofROCAKey is the private key of WycheproofROCAJWK.
func WycheproofROCAKey() *rsa.PrivateKey {
	return rsaKeyOf(rocaJWK)
}

// rsaKeyOf builds an RSA private key from JWK members n, e, d and p (q,
// when absent, is n/p); it panics on a key that does not validate.
func rsaKeyOf(m map[string]string) *rsa.PrivateKey {
	n := func(name string) *big.Int { return new(big.Int).SetBytes(unb64(m[name])) }
	q := new(big.Int).Quo(n("n"), n("p"))
	if m["q"] != "" {
		q = n("q")
	}
	k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n("n"), E: int(n("e").Int64())}, D: n("d"),
		Primes: []*big.Int{n("p"), q}}
	if err := k.Validate(); err != nil {
		panic(err)
	}
	k.Precompute()
	return k
}

func unb64(s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
