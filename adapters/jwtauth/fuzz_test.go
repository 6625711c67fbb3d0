package jwtauth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// FuzzVerify feeds arbitrary tokens to the verifier, seeded with valid and
// crafted ones: it must never panic, and every refusal is an AuthError for
// the token.
func FuzzVerify(f *testing.F) {
	kit := testkit.New(f)
	v, err := jwtauth.NewVerifier(jwtauth.Config{Issuer: testkit.Issuer, Audience: testkit.Audience, Algorithms: jwtauth.DefaultAlgorithms, JWKSFile: kit.JWKSFile}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(v.Close)
	f.Add(kit.Token(testkit.ClientA))
	for _, bad := range kit.BadTokens() {
		f.Add(bad.Token)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(ctx, token)
		if err == nil {
			// Only a genuinely signed token can pass; the fuzzer cannot forge one.
			if p.ClientID == "" || p.Subject == "" {
				t.Fatalf("accepted a token without client or subject: %q", token)
			}
			return
		}
		var ae *domain.AuthError
		if !errors.As(err, &ae) || ae.Credential != domain.CredentialToken {
			t.Fatalf("refusal is not a token AuthError: %v", err)
		}
	})
}
