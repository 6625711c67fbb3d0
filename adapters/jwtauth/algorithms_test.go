package jwtauth_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/jwtauth"
)

// TestCheckAlgorithms: the allow-list rule the verifier and the settings
// share: not empty, and only asymmetric algorithms it supports.
func TestCheckAlgorithms(t *testing.T) {
	t.Parallel()
	require.NoError(t, jwtauth.CheckAlgorithms(jwtauth.DefaultAlgorithms))
	require.NoError(t, jwtauth.CheckAlgorithms(jwtauth.SupportedAlgorithms))
	require.EqualError(t, jwtauth.CheckAlgorithms(nil), "must name at least one algorithm")
	require.EqualError(t, jwtauth.CheckAlgorithms([]string{"RS256", "HS256", "none"}),
		`"HS256" is not allowed (choose from RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512,EdDSA)`+"\n"+
			`"none" is not allowed (choose from RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512,EdDSA)`)
}
