package testkit

import (
	"encoding/json"
	"strings"
	"time"
)

// BadToken is a crafted token that must be refused with 401.
type BadToken struct {
	Name   string
	Reason string // what the verifier logs; never shown to the client
	Token  string
}

// BadTokens returns tokens, each wrong in exactly one way, for client
// ClientA. Every one must be refused as "Invalid access token".
func (k *Kit) BadTokens() []BadToken {
	now := time.Now()
	claims := func(edit func(map[string]any)) map[string]any {
		c := Claims(ClientA)
		edit(c)
		return c
	}
	header := func(edit func(map[string]any)) map[string]any {
		h := k.Header()
		edit(h)
		return h
	}
	valid := k.Token(ClientA)
	parts := strings.Split(valid, ".")

	unsigned := func(alg string) string {
		h := header(func(h map[string]any) { h["alg"] = alg })
		return Segment(h) + "." + Segment(Claims(ClientA)) + "."
	}
	hs256 := func(secret []byte) string {
		h := header(func(h map[string]any) { h["alg"] = "HS256" })
		input := Segment(h) + "." + Segment(Claims(ClientA))
		return input + "." + b64(HMAC(secret, []byte(input)))
	}
	// flipLastChar changes only the unused low bits of the final base64url
	// character: the bytes decode the same, the encoding is not canonical.
	flipLastChar := func(seg string) string {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		last := strings.IndexByte(alphabet, seg[len(seg)-1])
		return seg[:len(seg)-1] + string(alphabet[last^1])
	}
	rawPayload := func(payload string) string {
		return k.Sign(k.Header(), json.RawMessage(payload))
	}

	return []BadToken{
		{"Empty", "malformed", ""},
		{"Garbage", "malformed", "garbage"},
		{"TwoSegments", "malformed", parts[0] + "." + parts[1]},
		{"FourSegments", "malformed", valid + ".x"},
		{"NotBase64", "malformed", parts[0] + ".!!!." + parts[2]},
		{"Padded", "malformed", parts[0] + "." + parts[1] + "==." + parts[2]},
		{"StandardBase64Alphabet", "malformed", strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "+/"},
		{"NonCanonicalSignatureBits", "malformed", parts[0] + "." + parts[1] + "." + flipLastChar(parts[2])},
		{"AlgNone", "bad signature or algorithm", unsigned("none")},
		{"AlgNoneCapitalised", "unverifiable", unsigned("None")},
		{"HS256WithPublicKey", "bad signature or algorithm", hs256(k.PublicKeyBytes())},
		{"HS256WithJWKSFile", "bad signature or algorithm", hs256([]byte(k.JWKSFile))},
		{"AlgNotAllowed", "bad signature or algorithm", k.Sign(header(func(h map[string]any) { h["alg"] = "ES384" }), Claims(ClientA))},
		{"AlgMismatchesKey", "no matching key", k.Sign(header(func(h map[string]any) { h["alg"] = "RS256" }), Claims(ClientA))},
		{"UnknownKID", "no matching key", k.Sign(header(func(h map[string]any) { h["kid"] = "no-such-key" }), Claims(ClientA))},
		{"EmptyKID", "header not accepted", k.Sign(header(func(h map[string]any) { h["kid"] = "" }), Claims(ClientA))},
		{"NumericKID", "header not accepted", k.Sign(header(func(h map[string]any) { h["kid"] = 7 }), Claims(ClientA))},
		{"TamperedPayload", "bad signature or algorithm", parts[0] + "." + Segment(claims(func(c map[string]any) { c["client_id"] = ClientB })) + "." + parts[2]},
		{"SignatureFromOtherToken", "bad signature or algorithm", parts[0] + "." + parts[1] + "." + strings.Split(k.Token(ClientB), ".")[2]},
		{"Expired", "expired", k.Sign(k.Header(), claims(func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		}))},
		{"NotYetValid", "not yet valid", k.Sign(k.Header(), claims(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }))},
		{"IssuedInFuture", "issued in the future", k.Sign(k.Header(), claims(func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() }))},
		{"WrongIssuer", "wrong issuer", k.Sign(k.Header(), claims(func(c map[string]any) { c["iss"] = "https://evil.example" }))},
		{"IssuerCaseVariant", "wrong issuer", k.Sign(k.Header(), claims(func(c map[string]any) { c["iss"] = strings.ToUpper(Issuer) }))},
		{"WrongAudience", "wrong audience", k.Sign(k.Header(), claims(func(c map[string]any) { c["aud"] = "other-service" }))},
		{"AudienceListWithoutUs", "wrong audience", k.Sign(k.Header(), claims(func(c map[string]any) { c["aud"] = []string{"a", "b"} }))},
		{"MissingExp", "required claim missing", k.Sign(k.Header(), claims(func(c map[string]any) { delete(c, "exp") }))},
		{"ExpAsString", "malformed claims", k.Sign(k.Header(), claims(func(c map[string]any) { c["exp"] = "4102444800" }))},
		{"ExpAsBool", "malformed claims", k.Sign(k.Header(), claims(func(c map[string]any) { c["exp"] = true }))},
		{"NbfAsString", "malformed claims", k.Sign(k.Header(), claims(func(c map[string]any) { c["nbf"] = "0" }))},
		{"IatAsString", "malformed claims", k.Sign(k.Header(), claims(func(c map[string]any) { c["iat"] = "0" }))},
		{"ExpCaseVariant", "required claim missing", k.Sign(k.Header(), claims(func(c map[string]any) { c["EXP"] = c["exp"]; delete(c, "exp") }))},
		{"ClientIDCaseVariant", "required claim missing", k.Sign(k.Header(), claims(func(c map[string]any) {
			c["Client_ID"] = c["client_id"]
			delete(c, "client_id")
		}))},
		{"IssuerNotString", "malformed claims", k.Sign(k.Header(), claims(func(c map[string]any) { c["iss"] = []string{Issuer} }))},
		{"MissingSub", "required claim missing", k.Sign(k.Header(), claims(func(c map[string]any) { delete(c, "sub") }))},
		{"MissingClientID", "required claim missing", k.Sign(k.Header(), claims(func(c map[string]any) { delete(c, "client_id") }))},
		{"PayloadNotObject", "malformed claims", rawPayload(`["iss"]`)},
		{"PayloadNotJSON", "malformed", rawPayload(`{"iss":`)},
		{"CritHeader", "header not accepted", k.Sign(header(func(h map[string]any) { h["crit"] = []string{"exp"}; h["exp"] = 1 }), Claims(ClientA))},
		{"CritEmpty", "header not accepted", k.Sign(header(func(h map[string]any) { h["crit"] = []string{} }), Claims(ClientA))},
		{"EmbeddedJWK", "header not accepted", k.Sign(header(func(h map[string]any) {
			h["jwk"] = map[string]any{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}
		}), Claims(ClientA))},
		{"JKUHeader", "header not accepted", k.Sign(header(func(h map[string]any) { h["jku"] = "https://127.0.0.1:1/jwks.json" }), Claims(ClientA))},
		{"X5UHeader", "header not accepted", k.Sign(header(func(h map[string]any) { h["x5u"] = "https://127.0.0.1:1/cert.pem" }), Claims(ClientA))},
		{"X5CHeader", "header not accepted", k.Sign(header(func(h map[string]any) { h["x5c"] = []string{"MIIB"} }), Claims(ClientA))},
		{"WrongType", "header not accepted", k.Sign(header(func(h map[string]any) { h["typ"] = "JWE" }), Claims(ClientA))},
		{"TooLong", "too long", k.Sign(k.Header(), claims(func(c map[string]any) { c["pad"] = strings.Repeat("a", 9000) }))},
	}
}
