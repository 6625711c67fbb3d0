package testkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"hash"
	"math/big"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jobstatus/jobstatus/adapters/jwtauth"
)

// VerifierConfig is a complete verifier configuration for the kit's JWKS
// file with the default allow-list.
func (k *Kit) VerifierConfig() jwtauth.Config {
	return jwtauth.Config{Issuer: Issuer, Audience: Audience, Algorithms: jwtauth.DefaultAlgorithms,
		JWKSFile: k.JWKSFile, Leeway: 5 * time.Second}
}

var (
	rsaBySize   = map[int]*rsa.PrivateKey{}
	rsaBySizeMu sync.Mutex
)

// RSAKey returns an RSA key of bits, one per size per test binary.
func RSAKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	if bits == 2048 {
		return rsaKey(t)
	}
	rsaBySizeMu.Lock()
	defer rsaBySizeMu.Unlock()
	if k, ok := rsaBySize[bits]; ok {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	rsaBySize[bits] = k
	return k
}

// PublicJWK writes pub as a JWK by hand (RFC 7518 section 6, RFC 8037
// section 2) with kid and any extra members; an extra member with a nil
// value is removed.
func PublicJWK(pub crypto.PublicKey, kid string, extra map[string]any) map[string]any {
	m := map[string]any{"kid": kid}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(k.N.Bytes()), b64(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		x, y := make([]byte, size), make([]byte, size)
		raw, err := k.Bytes()
		if err != nil {
			panic(err)
		}
		copy(x, raw[1:1+size])
		copy(y, raw[1+size:])
		m["kty"], m["crv"], m["x"], m["y"] = "EC", k.Curve.Params().Name, b64(x), b64(y)
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(k)
	default:
		panic("testkit: unsupported key type")
	}
	return With(m, extra)
}

// With returns a copy of the JSON object m with extra members set; an extra
// member with a nil value is removed.
func With(m, extra map[string]any) map[string]any {
	out := make(map[string]any, len(m)+len(extra))
	for name, v := range m {
		out[name] = v
	}
	for name, v := range extra {
		if v == nil {
			delete(out, name)
		} else {
			out[name] = v
		}
	}
	return out
}

// ECKey returns a fresh ECDSA key on curve.
func ECKey(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// URLConfig is VerifierConfig reading the keys from url instead of the file,
// refreshed hourly.
func (k *Kit) URLConfig(url string) jwtauth.Config {
	cfg := k.VerifierConfig()
	cfg.JWKSFile, cfg.JWKSURL, cfg.JWKSRefresh, cfg.JWKSUnknownKIDInterval = "", url, time.Hour, time.Hour
	return cfg
}

// JWKS returns a JWK Set document holding keys.
func JWKS(keys ...map[string]any) []byte {
	if keys == nil {
		keys = []map[string]any{}
	}
	raw, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(err)
	}
	return raw
}

// WriteJWKS writes a JWK Set document to a new file under dir.
func WriteJWKS(t testing.TB, dir string, doc []byte) string {
	t.Helper()
	f := filepath.Join(dir, rand.Text()+".json")
	writeFile(t, f, doc)
	return f
}

// SignWith signs header and payload with key under the header's alg, for
// RS*, PS* (salt as long as the hash), ES* and EdDSA.
func SignWith(key crypto.Signer, header, payload any) string {
	return SignPSSSalt(key, header, payload, rsa.PSSSaltLengthEqualsHash)
}

// SignPSSSalt is SignWith with the RSASSA-PSS salt length chosen.
func SignPSSSalt(key crypto.Signer, header, payload any, salt int) string {
	input := Segment(header) + "." + Segment(payload)
	alg, _ := lookup(header, "alg").(string)
	return input + "." + b64(signInput(key, alg, []byte(input), salt))
}

func signInput(key crypto.Signer, alg string, input []byte, salt int) []byte {
	if alg == "EdDSA" {
		return ed25519.Sign(key.(ed25519.PrivateKey), input)
	}
	var h hash.Hash
	var id crypto.Hash
	switch alg[2:] {
	case "256":
		h, id = sha256.New(), crypto.SHA256
	case "384":
		h, id = sha512.New384(), crypto.SHA384
	case "512":
		h, id = sha512.New(), crypto.SHA512
	default:
		panic("testkit: unknown alg " + alg)
	}
	h.Write(input)
	sum := h.Sum(nil)
	var sig []byte
	var err error
	switch alg[:2] {
	case "RS":
		sig, err = rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), id, sum)
	case "PS":
		sig, err = rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), id, sum, &rsa.PSSOptions{SaltLength: salt})
	case "ES":
		// The signature's length follows the alg, not the key, so a key of
		// another curve can be tried against the alg (RFC 7518 section 3.4).
		var r, s *big.Int
		if r, s, err = ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), sum); err == nil {
			size := map[string]int{"256": 32, "384": 48, "512": 66}[alg[2:]]
			if r.BitLen() > 8*size || s.BitLen() > 8*size {
				return make([]byte, 2*size)
			}
			sig = make([]byte, 2*size)
			r.FillBytes(sig[:size])
			s.FillBytes(sig[size:])
		}
	default:
		panic("testkit: unknown alg " + alg)
	}
	if err != nil {
		panic(err)
	}
	return sig
}
