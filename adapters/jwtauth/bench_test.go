package jwtauth_test

import (
	"context"
	"testing"

	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/test/testkit"
)

func BenchmarkVerify(b *testing.B) {
	kit := testkit.New(b)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		alg   string
		kid   string
		cache int
	}{
		{"RS256", "RS256", kit.RSAKID, 0},
		{"ES256", "ES256", kit.KID, 0},
		{"EdDSA", "EdDSA", kit.EdKID, 0},
		{"CachedHit", "ES256", kit.KID, 100},
	} {
		b.Run(tc.name, func(b *testing.B) {
			v, err := jwtauth.NewVerifier(jwtauth.Config{Issuer: testkit.Issuer, Audience: testkit.Audience, Algorithms: jwtauth.DefaultAlgorithms,
				JWKSFile: kit.JWKSFile, CacheSize: tc.cache}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer v.Close()
			token := kit.Sign(map[string]any{"alg": tc.alg, "kid": tc.kid}, testkit.Claims(testkit.ClientA))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
