package testkit

import (
	"testing"

	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/apikey"
	"github.com/jobstatus/jobstatus/adapters/jwtauth"
)

// Verifier returns a verifier of the kit's tokens (Issuer, Audience, the
// kit's JWKS file), closed when the test ends.
func (k *Kit) Verifier(t testing.TB) *jwtauth.Verifier {
	t.Helper()
	v, err := jwtauth.NewVerifier(k.VerifierConfig(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

// Clients returns the api-key store of the kit's KeysFile.
func (k *Kit) Clients(t testing.TB) *apikey.Store {
	t.Helper()
	s, err := apikey.Load(k.KeysFile)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
