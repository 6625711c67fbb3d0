package jwtauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	gojwt "github.com/golang-jwt/jwt/v5"
)

// Signer mints access tokens; the service itself never signs, but the token
// command, --dev mode and the tests do.
type Signer struct {
	key crypto.Signer
	alg string
	kid string
}

// NewSigner returns a Signer for an RSA (RS256), P-256 ECDSA (ES256) or
// Ed25519 (EdDSA) private key. The kid is derived from the public key.
func NewSigner(key crypto.Signer) (*Signer, error) {
	var alg string
	switch k := key.(type) {
	case *rsa.PrivateKey:
		alg = "RS256"
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("jwt: only P-256 ECDSA keys are supported")
		}
		alg = "ES256"
	case ed25519.PrivateKey:
		alg = "EdDSA"
	default:
		return nil, fmt.Errorf("jwt: unsupported key type %T", key)
	}
	kid, err := KeyID(key.Public())
	if err != nil {
		return nil, err
	}
	return &Signer{key: key, alg: alg, kid: kid}, nil
}

// GenerateKey makes a fresh key for alg ("RS256", "ES256" or "EdDSA").
func GenerateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "RS256":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("jwt: cannot generate a key for %q", alg)
}

// KeyID derives a stable kid from a public key: the first 16 bytes of the
// SHA-256 of its SubjectPublicKeyInfo, base64url-encoded.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("jwt: marshal public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:16]), nil
}

// LoadPrivateKey reads a PEM private key (PKCS#8, PKCS#1 or SEC 1).
func LoadPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("key file %s holds no PEM block", path)
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("key file %s: not a PKCS#8, PKCS#1 or SEC 1 private key", path)
}

// EncodePrivateKey returns key as PKCS#8 PEM.
func EncodePrivateKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Alg returns the signing algorithm.
func (s *Signer) Alg() string { return s.alg }

// KID returns the key id tokens carry.
func (s *Signer) KID() string { return s.kid }

// Storage returns a JWK Set holding the public key, for a Verifier.
func (s *Signer) Storage() (jwkset.Storage, error) {
	jwk, err := jwkset.NewJWKFromKey(s.key.Public(), jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: s.kid, ALG: jwkset.ALG(s.alg), USE: jwkset.UseSig},
	})
	if err != nil {
		return nil, fmt.Errorf("jwt: public JWK: %w", err)
	}
	store := jwkset.NewMemoryStorage()
	if err := store.KeyWrite(context.Background(), jwk); err != nil {
		return nil, err
	}
	return store, nil
}

// JWKS returns the public JWK Set as JSON, for a JWKS file or endpoint.
func (s *Signer) JWKS() ([]byte, error) {
	store, err := s.Storage()
	if err != nil {
		return nil, err
	}
	raw, err := store.JSONPublic(context.Background())
	if err != nil {
		return nil, err
	}
	var pretty json.RawMessage = raw
	return json.MarshalIndent(pretty, "", "  ")
}

// TokenParams are the claims of a minted token.
type TokenParams struct {
	Issuer   string
	Audience string
	Subject  string
	ClientID string
	Scopes   []string
	TTL      time.Duration
	Now      time.Time
}

// Mint signs an RFC 9068 access token.
func (s *Signer) Mint(p TokenParams) (string, error) {
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	ttl := p.TTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	claims := gojwt.MapClaims{
		"iss":       p.Issuer,
		"aud":       p.Audience,
		"sub":       p.Subject,
		"client_id": p.ClientID,
		"scope":     strings.Join(p.Scopes, " "),
		"iat":       now.Unix(),
		"exp":       now.Add(ttl).Unix(),
		"jti":       rand.Text(),
	}
	t := gojwt.NewWithClaims(gojwt.GetSigningMethod(s.alg), claims)
	t.Header["kid"] = s.kid
	t.Header["typ"] = "at+jwt"
	return t.SignedString(s.key)
}
