// Package testkit builds test credentials by hand: keys, JWK Sets, api-key
// files and compact JWS tokens encoded and signed with the standard library
// only, so the tokens do not depend on the library that verifies them.
package testkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobstatus/jobstatus/adapters/apikey"
	"github.com/jobstatus/jobstatus/adapters/jwtauth"
)

// Defaults shared by the suites.
const (
	Issuer   = "https://auth.test.example"
	Audience = "jobstatus"
	ClientA  = "mis-alpha"
	ClientB  = "mis-beta"
	KeyA     = "alpha-secret-key"
	KeyB     = "beta-secret-key"
	Scope    = "composition:read"
)

// Kit is one signing identity with its JWKS and api-key file on disk.
type Kit struct {
	Key       *ecdsa.PrivateKey
	KID       string
	RSA       *rsa.PrivateKey
	RSAKID    string
	Ed        ed25519.PrivateKey
	EdKID     string
	JWKSFile  string
	KeysFile  string
	KeyPEM    string // the ES256 private key as PEM, for the token command
	Dir       string
	Signer    *jwtauth.Signer
	RSASigner *jwtauth.Signer
}

// sharedRSA is one RSA key per test binary: generating them is slow.
var sharedRSA = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func rsaKey(t testing.TB) *rsa.PrivateKey {
	k, err := sharedRSA()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// New makes keys (ES256, RS256, EdDSA), writes the public JWKS and an api-key
// file for ClientA and ClientB into a temporary directory.
func New(t testing.TB) *Kit {
	t.Helper()
	dir := t.TempDir()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := &Kit{Key: ec, RSA: rsaKey(t), Ed: ed, Dir: dir}
	k.Signer = must(t, ec)
	k.KID = k.Signer.KID()
	k.RSASigner = must(t, k.RSA)
	k.RSAKID = k.RSASigner.KID()
	k.EdKID = must(t, ed).KID()

	var keys []json.RawMessage
	for _, s := range []crypto.Signer{ec, k.RSA, ed} {
		jwks, err := must(t, s).JWKS()
		if err != nil {
			t.Fatal(err)
		}
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(jwks, &set); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, set.Keys...)
	}
	raw, _ := json.Marshal(map[string]any{"keys": keys})
	k.JWKSFile = filepath.Join(dir, "jwks.json")
	writeFile(t, k.JWKSFile, raw)

	k.KeysFile = filepath.Join(dir, "clients.yaml")
	writeFile(t, k.KeysFile, []byte(fmt.Sprintf(`clients:
  - id: %s
    name: Clinic MIS Alpha
    key_sha256: %s
  - id: %s
    name: Clinic MIS Beta
    key_sha256: %s
`, ClientA, apikey.Digest(KeyA), ClientB, apikey.Digest(KeyB))))

	pemBytes, err := jwtauth.EncodePrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	k.KeyPEM = filepath.Join(dir, "signing.pem")
	writeFile(t, k.KeyPEM, pemBytes)
	return k
}

func must(t testing.TB, key crypto.Signer) *jwtauth.Signer {
	t.Helper()
	s, err := jwtauth.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Claims returns valid RFC 9068 claims for client with the read scope.
func Claims(client string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss":       Issuer,
		"aud":       Audience,
		"sub":       "doctor-1",
		"client_id": client,
		"scope":     "composition:create " + Scope,
		"iat":       now.Unix(),
		"exp":       now.Add(time.Hour).Unix(),
		"jti":       rand.Text(),
	}
}

// Header returns a valid ES256 header naming the kit's key.
func (k *Kit) Header() map[string]any {
	return map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": k.KID}
}

// Token returns a valid ES256 token for client.
func (k *Kit) Token(client string) string {
	return k.Sign(k.Header(), Claims(client))
}

// Sign encodes header and payload (any JSON-marshalable values, or
// json.RawMessage for exact bytes) and signs them with the key the header's
// alg names.
func (k *Kit) Sign(header, payload any) string {
	input := Segment(header) + "." + Segment(payload)
	alg, _ := lookup(header, "alg").(string)
	return input + "." + b64(k.SignBytes(alg, []byte(input)))
}

// SignBytes signs input with the kit's key for alg; unknown algs sign nothing.
func (k *Kit) SignBytes(alg string, input []byte) []byte {
	sum := sha256.Sum256(input)
	switch alg {
	case "ES256":
		r, s, err := ecdsa.Sign(rand.Reader, k.Key, sum[:])
		if err != nil {
			panic(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	case "RS256":
		sig, err := rsa.SignPKCS1v15(rand.Reader, k.RSA, crypto.SHA256, sum[:])
		if err != nil {
			panic(err)
		}
		return sig
	case "EdDSA":
		return ed25519.Sign(k.Ed, input)
	}
	return nil
}

// HMAC signs input with HS256 under secret, for key-confusion attacks.
func HMAC(secret, input []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(input)
	return m.Sum(nil)
}

// PublicKeyBytes returns the ES256 public point, as an attacker would feed
// it to HMAC.
func (k *Kit) PublicKeyBytes() []byte {
	pub, err := k.Key.PublicKey.ECDH()
	if err != nil {
		panic(err)
	}
	return pub.Bytes()
}

// Segment base64url-encodes v (JSON unless it is a json.RawMessage or []byte).
func Segment(v any) string {
	switch raw := v.(type) {
	case json.RawMessage:
		return b64(raw)
	case []byte:
		return b64(raw)
	}
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b64(data)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func lookup(v any, key string) any {
	if m, ok := v.(map[string]any); ok {
		return m[key]
	}
	var m map[string]any
	if raw, ok := v.(json.RawMessage); ok && json.Unmarshal(raw, &m) == nil {
		return m[key]
	}
	return nil
}

// Clone copies a claims or header map so a case can change it.
func Clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ClientsFile is an api-keys file listing ids, each with the key
// "<id>-key".
func ClientsFile(ids ...string) []byte {
	var b strings.Builder
	b.WriteString("clients:\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "  - id: %s\n    key_sha256: %s\n", id, apikey.Digest(id+"-key"))
	}
	return []byte(b.String())
}
