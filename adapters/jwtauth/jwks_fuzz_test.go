package jwtauth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
)

// FuzzJWKS feeds arbitrary bytes as a JWKS file and as a JWKS URL's body:
// neither may panic, both must judge every key alike, and every key kept must
// be one RFC 7518 allows for verification.
func FuzzJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"k","n":"AQAB","e":"AQABAAAAAAABAAE"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","kid":"k","crv":"P-256","x":"AAAA"}]}`))
	// The body comes from a RoundTripper, not a socket: the whole fetch path
	// runs, at the speed fuzzing needs.
	var body atomic.Pointer[[]byte]
	client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(bytes.NewReader(*body.Load())), Request: r}, nil
	})}
	dir := f.TempDir()
	file := filepath.Join(dir, "jwks.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		fromFile := newSource(zap.NewNop())
		fromFile.file = file
		fileSet, fileErr := fromFile.loadFile()

		body.Store(&data)
		fromURL := newSource(zap.NewNop())
		fromURL.url, fromURL.client = "http://127.0.0.1/jwks", client
		urlErr := fromURL.fetchOnce(context.Background())
		if (fileErr == nil) != (urlErr == nil) {
			t.Fatalf("file and URL disagree: %v / %v", fileErr, urlErr)
		}
		if fileErr != nil {
			return
		}
		urlSet := fromURL.current.Load().set
		if !slices.Equal(fileSet.skipped, urlSet.skipped) || len(fileSet.keys) != len(urlSet.keys) {
			t.Fatalf("file and URL disagree: %v / %v", fileSet.skipped, urlSet.skipped)
		}
		for i, k := range fileSet.keys {
			if k.fingerprint != urlSet.keys[i].fingerprint {
				t.Fatalf("key %d differs", i)
			}
			switch key := k.key.(type) {
			case *rsa.PublicKey:
				if key.N.BitLen() < minRSABits || key.E < 3 || key.E%2 == 0 {
					t.Fatalf("weak RSA key kept: %d bits, e=%d", key.N.BitLen(), key.E)
				}
			case *ecdsa.PublicKey:
				if _, err := key.ECDH(); err != nil {
					t.Fatalf("invalid EC key kept: %v", err)
				}
			case ed25519.PublicKey:
				if len(key) != ed25519.PublicKeySize {
					t.Fatal("short Ed25519 key kept")
				}
			default:
				t.Fatalf("unexpected key type %T", key)
			}
		}
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
