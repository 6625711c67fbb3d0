package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/titanous/rocacheck"
)

// Limits on what a JWK Set may hold. RSA moduli above maxRSABits would make
// every verification slow; RFC 7518 section 3.3 sets the floor.
const (
	minRSABits = 2048
	maxRSABits = 16384
	maxJWKSLen = MaxJWKSSize
)

// MaxJWKSSize bounds a JWK Set document, from a file or a URL.
const MaxJWKSSize = 1 << 20

// KeySet is a parsed JWK Set: the keys usable to verify signatures and the
// ones that were skipped, with why.
type KeySet struct {
	keys    []verificationKey
	skipped []SkippedKey
}

// SkippedKey names a JWK that cannot verify tokens and why (RFC 7517 section
// 5: keys an implementation cannot use are ignored, the others kept).
type SkippedKey struct {
	Index  int    // position in "keys"
	KID    string // empty when the key has none
	Reason string
}

// String reads "key 2 (kid "abc"): reason".
func (s SkippedKey) String() string {
	if s.KID == "" {
		return fmt.Sprintf("key %d (no kid): %s", s.Index, s.Reason)
	}
	return fmt.Sprintf("key %d (kid %q): %s", s.Index, s.KID, s.Reason)
}

type verificationKey struct {
	index int // position in "keys"
	kid   string
	alg   string // the JWK's "alg", empty when unrestricted
	key   crypto.PublicKey
	// fingerprint identifies kid, alg and key material together, so a key
	// that leaves the set (or changes under the same kid) is noticed.
	fingerprint string
}

// Len returns the number of usable verification keys.
func (s *KeySet) Len() int { return len(s.keys) }

// Skipped returns the keys that were ignored.
func (s *KeySet) Skipped() []SkippedKey { return slices.Clone(s.skipped) }

// skippedSummary joins the skipped keys into one line.
func (s *KeySet) skippedSummary() string {
	parts := make([]string, len(s.skipped))
	for i, k := range s.skipped {
		parts[i] = k.String()
	}
	return strings.Join(parts, "; ")
}

// MaxKeysWithoutKID bounds the keys a token without "kid" is tried
// against. "kid" is optional (RFC 7515 section 4.1.4, RFC 7517 section 4.5),
// so such a token is tried against every usable key that fits its alg; four
// covers an issuer's current, next and previous key with one to spare, and
// keeps a forged token without kid to four signature checks at most. A set
// with more keys fitting the alg needs tokens that name their key.
const MaxKeysWithoutKID = 4

// candidates returns the keys that can verify alg and are named kid, or,
// for a token without kid (named false), every key that can verify alg: the
// key type, curve and size must fit the algorithm (RFC 7518 section 3),
// whatever else the JWK says, and a JWK "alg" must equal it (RFC 7517
// section 4.4).
func (s *KeySet) candidates(kid string, named bool, alg string) []verificationKey {
	var out []verificationKey
	for _, k := range s.keys {
		if (!named || k.kid == kid) && (k.alg == "" || k.alg == alg) && fits(alg, k.key) {
			out = append(out, k)
		}
	}
	return out
}

// fits reports whether key is of the type alg needs (RFC 7518 sections
// 3.3-3.5, RFC 8037 section 3.1).
func fits(alg string, key crypto.PublicKey) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// ParseJWKS reads a JWK Set (RFC 7517 section 5). It is the one parser for
// the JWKS file, the JWKS URL and in-memory sets: a member that is not what
// RFC 7517/7518 say makes that key unusable, and the key is skipped with its
// reason; only a document that is not a JWK Set at all is an error.
func ParseJWKS(data []byte) (*KeySet, error) {
	if len(data) > maxJWKSLen {
		return nil, fmt.Errorf("larger than %d bytes", maxJWKSLen)
	}
	if !utf8.Valid(data) {
		return nil, errors.New("not valid UTF-8")
	}
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`not a JWK Set: no "keys" array`)
	}
	set := &KeySet{}
	kinds := map[string]string{} // kid -> kty of the first usable key with it
	for i, raw := range *doc.Keys {
		k, kid, err := parseJWK(raw)
		if err == nil && kid != "" { // keys without kid are told apart by trying them
			kty := keyType(k.key)
			if first, dup := kinds[kid]; dup && first == kty {
				err = fmt.Errorf("kid is shared with another %s key (RFC 7517 section 4.5)", kty)
				set.dropKID(kid, kty, i)
			} else if !dup {
				kinds[kid] = kty
			}
		}
		if err != nil {
			set.skipped = append(set.skipped, SkippedKey{Index: i, KID: kid, Reason: err.Error()})
			continue
		}
		k.index = i
		set.keys = append(set.keys, k)
	}
	slices.SortFunc(set.skipped, func(a, b SkippedKey) int { return a.Index - b.Index })
	return set, nil
}

// dropKID removes the usable key sharing kid and kty with the key at index:
// two keys of one type under one kid are ambiguous, so neither is used.
func (s *KeySet) dropKID(kid, kty string, index int) {
	for i, k := range s.keys {
		if k.kid == kid && keyType(k.key) == kty {
			s.keys = slices.Delete(s.keys, i, i+1)
			s.skipped = append(s.skipped, SkippedKey{Index: k.index, KID: kid,
				Reason: fmt.Sprintf("kid is shared with key %d of the same type (RFC 7517 section 4.5)", index)})
			return
		}
	}
}

func keyType(key crypto.PublicKey) string {
	switch key.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "EC"
	}
	return "OKP"
}

// jwkMembers are the JWK members the verifier relies on; every one is
// optional at the JSON level so that its absence and its type are checked
// here with a reason.
type jwkMembers struct {
	KTY    *string   `json:"kty"`
	KID    *string   `json:"kid"`
	Use    *string   `json:"use"`
	KeyOps *[]string `json:"key_ops"`
	Alg    *string   `json:"alg"`
	CRV    *string   `json:"crv"`
	X      *string   `json:"x"`
	Y      *string   `json:"y"`
	N      *string   `json:"n"`
	E      *string   `json:"e"`
}

func parseJWK(raw json.RawMessage) (verificationKey, string, error) {
	var m jwkMembers
	if err := json.Unmarshal(raw, &m); err != nil {
		var kid struct {
			KID string `json:"kid"`
		}
		_ = json.Unmarshal(raw, &kid)
		return verificationKey{}, kid.KID, fmt.Errorf("not a JWK object with string members: %w", err)
	}
	// "kid" is optional (RFC 7517 section 4.5): a key without one verifies
	// tokens without one. An empty kid names nothing a token can name (a
	// token's empty kid is refused), so such a key is never usable.
	kid := deref(m.KID)
	if m.KID != nil && kid == "" {
		return verificationKey{}, kid, errors.New(`"kid" is empty: no token can name this key (RFC 7517 section 4.5)`)
	}
	if err := usableForVerify(m); err != nil {
		return verificationKey{}, kid, err
	}
	key, err := publicKey(m)
	if err != nil {
		return verificationKey{}, kid, err
	}
	alg := deref(m.Alg)
	if m.Alg != nil {
		if !slices.Contains(SupportedAlgorithms, alg) {
			return verificationKey{}, kid, fmt.Errorf("alg %q is not a supported signature algorithm (RFC 7517 section 4.4)", alg)
		}
		if !fits(alg, key) {
			return verificationKey{}, kid, fmt.Errorf("alg %q does not fit a %s key (RFC 7518 section 3.1)", alg, describe(key))
		}
	}
	fp, err := KeyID(key)
	if err != nil {
		return verificationKey{}, kid, err
	}
	return verificationKey{kid: kid, alg: alg, key: key, fingerprint: kid + "\x00" + alg + "\x00" + fp}, kid, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// signatureOps are the key_ops values that agree with "use":"sig" (RFC 7517
// section 4.3); a key whose "use" is anything else is refused before.
var signatureOps = []string{"sign", "verify"}

// usableForVerify applies "use" (RFC 7517 section 4.2) and "key_ops"
// (section 4.3): a key meant for something else, or whose two members
// disagree, never verifies a signature.
func usableForVerify(m jwkMembers) error {
	if m.Use != nil && *m.Use != "sig" {
		return fmt.Errorf(`"use" is %q, not "sig" (RFC 7517 section 4.2)`, *m.Use)
	}
	if m.KeyOps == nil {
		return nil
	}
	ops := *m.KeyOps
	for i, op := range ops {
		if slices.Contains(ops[:i], op) {
			return fmt.Errorf(`"key_ops" repeats %q (RFC 7517 section 4.3)`, op)
		}
	}
	if m.Use != nil {
		for _, op := range ops {
			if !slices.Contains(signatureOps, op) {
				return fmt.Errorf(`"key_ops" %q disagrees with "use":"sig" (RFC 7517 section 4.3)`, op)
			}
		}
	}
	if !slices.Contains(ops, "verify") {
		return errors.New(`"key_ops" does not include "verify" (RFC 7517 section 4.3)`)
	}
	return nil
}

func publicKey(m jwkMembers) (crypto.PublicKey, error) {
	if m.KTY == nil {
		return nil, errors.New(`no "kty" (RFC 7517 section 4.1)`)
	}
	switch kty := *m.KTY; kty {
	case "RSA":
		return rsaKey(m)
	case "EC":
		return ecKey(m)
	case "OKP":
		return okpKey(m)
	case "oct":
		return nil, errors.New(`"kty":"oct" is a shared secret; only public keys verify tokens (RFC 8725 section 3.1)`)
	default:
		return nil, fmt.Errorf(`unknown "kty" %q (RFC 7518 section 6.1)`, kty)
	}
}

// member decodes a base64url member strictly: the unpadded URL-safe
// alphabet only (RFC 7515 section 2), no line breaks, no stray low bits.
func member(name string, v *string) ([]byte, error) {
	if v == nil {
		return nil, fmt.Errorf("no %q", name)
	}
	for i := 0; i < len(*v); i++ {
		c := (*v)[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return nil, fmt.Errorf("%q is not unpadded base64url (RFC 7515 section 2)", name)
		}
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(*v)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("%q is not canonical base64url (RFC 7515 section 2)", name)
	}
	return b, nil
}

// uintMember decodes a Base64urlUInt: the fewest octets, so no leading zero
// (RFC 7518 section 2).
func uintMember(name string, v *string) (*big.Int, error) {
	b, err := member(name, v)
	if err != nil {
		return nil, err
	}
	if b[0] == 0 {
		return nil, fmt.Errorf("%q has a leading zero octet (RFC 7518 sections 2, 6.3.1)", name)
	}
	return new(big.Int).SetBytes(b), nil
}

func rsaKey(m jwkMembers) (crypto.PublicKey, error) {
	n, err := uintMember("n", m.N)
	if err != nil {
		return nil, err
	}
	e, err := uintMember("e", m.E)
	if err != nil {
		return nil, err
	}
	if err := checkRSA(n, e); err != nil {
		return nil, err
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

// checkRSA applies the rules an RSA key of the key set must meet.
func checkRSA(n, e *big.Int) error {
	if bits := n.BitLen(); bits < minRSABits || bits > maxRSABits {
		return fmt.Errorf("RSA key is %d bits; between %d and %d are used (RFC 7518 section 3.3)", bits, minRSABits, maxRSABits)
	}
	// A modulus made by Infineon's flawed generator can be factored (ROCA,
	// CVE-2017-15361); its residues modulo small primes give it away.
	if rocacheck.IsWeak(&rsa.PublicKey{N: n}) {
		return errors.New("RSA modulus has the ROCA weakness (CVE-2017-15361): it can be factored")
	}
	// An exponent must be odd and at least 3; crypto/rsa takes at most
	// 2^31-1. A longer one is refused, never truncated (RFC 7518 section 6.3.1.2).
	if e.BitLen() > 31 || e.Int64() < 3 || e.Bit(0) == 0 {
		return fmt.Errorf(`RSA exponent "e" must be odd, at least 3 and below 2^31 (RFC 7518 section 6.3.1.2)`)
	}
	return nil
}

// CheckSigningKey reports why the service would refuse the public part of
// key in its key set, or nil: the token command mints nothing with a key
// whose tokens every request would refuse.
func CheckSigningKey(key crypto.Signer) error {
	if k, ok := key.Public().(*rsa.PublicKey); ok {
		return checkRSA(k.N, big.NewInt(int64(k.E)))
	}
	return nil // NewSigner takes P-256 and Ed25519 keys only: each is usable
}

var curves = map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}

func ecKey(m jwkMembers) (crypto.PublicKey, error) {
	curve, ok := curves[deref(m.CRV)]
	if !ok {
		return nil, fmt.Errorf(`EC "crv" %q is not P-256, P-384 or P-521 (RFC 7518 section 6.2.1.1)`, deref(m.CRV))
	}
	size := (curve.Params().BitSize + 7) / 8
	point := []byte{4}
	for _, c := range []struct {
		name string
		v    *string
	}{{"x", m.X}, {"y", m.Y}} {
		b, err := member(c.name, c.v)
		if err != nil {
			return nil, err
		}
		if len(b) != size {
			return nil, fmt.Errorf("EC %q is %d octets; %s needs exactly %d (RFC 7518 section 6.2.1.2)", c.name, len(b), deref(m.CRV), size)
		}
		point = append(point, b...)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, fmt.Errorf("EC point is not on %s (RFC 7518 section 6.2.1)", deref(m.CRV))
	}
	return pub, nil
}

func okpKey(m jwkMembers) (crypto.PublicKey, error) {
	if crv := deref(m.CRV); crv != "Ed25519" {
		return nil, fmt.Errorf(`OKP "crv" %q cannot verify EdDSA here; only Ed25519 (RFC 8037 section 2)`, crv)
	}
	x, err := member("x", m.X)
	if err != nil {
		return nil, err
	}
	if len(x) != ed25519.PublicKeySize {
		return nil, fmt.Errorf(`Ed25519 "x" is %d octets, not %d (RFC 8037 section 2)`, len(x), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(x), nil
}

func describe(key crypto.PublicKey) string {
	if k, ok := key.(*ecdsa.PublicKey); ok {
		return "EC " + k.Curve.Params().Name
	}
	if _, ok := key.(ed25519.PublicKey); ok {
		return "Ed25519"
	}
	return keyType(key)
}
