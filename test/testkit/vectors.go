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
	n := func(name string) *big.Int { return new(big.Int).SetBytes(unb64(rocaJWK[name])) }
	k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n("n"), E: int(n("e").Int64())}, D: n("d"),
		Primes: []*big.Int{n("p"), n("q")}}
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
