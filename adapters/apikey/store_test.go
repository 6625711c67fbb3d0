package apikey_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/apikey"
	"github.com/jobstatus/jobstatus/domain"
)

func TestSpecExampleDigest(t *testing.T) {
	t.Parallel()
	require.Equal(t, "cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf", apikey.Digest("demo-secret"))
}

func TestClientByAPIKey(t *testing.T) {
	t.Parallel()
	s, err := apikey.Parse([]byte(`clients:
  - id: mis-alpha
    name: Clinic MIS Alpha
    key_sha256: cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf  # sha256("demo-secret")
  - id: mis-beta
    key_sha256: ` + apikey.Digest("beta") + `
`))
	require.NoError(t, err)
	require.Equal(t, 2, s.Len())
	tests := []struct {
		key    string
		client string
	}{
		{"demo-secret", "mis-alpha"},
		{"beta", "mis-beta"},
		{"Demo-secret", ""},
		{"demo-secret ", ""},
		{"cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			t.Parallel()
			c, err := s.ClientByAPIKey(context.Background(), tt.key)
			if tt.client == "" {
				var ae *domain.AuthError
				require.True(t, errors.As(err, &ae), "got %v", err)
				require.Equal(t, domain.CredentialAPIKey, ae.Credential)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.client, c.ID)
		})
	}
}

func TestParseRefusesBadFiles(t *testing.T) {
	t.Parallel()
	d := apikey.Digest("x")
	tests := map[string]string{
		"Empty":         ``,
		"NoClients":     `clients: []`,
		"UnknownField":  "clients:\n  - id: a\n    key: plain\n    key_sha256: " + d,
		"NoID":          "clients:\n  - key_sha256: " + d,
		"ShortDigest":   "clients:\n  - id: a\n    key_sha256: abc",
		"NotHex":        "clients:\n  - id: a\n    key_sha256: " + "zz" + d[2:],
		"DuplicateID":   "clients:\n  - id: a\n    key_sha256: " + d + "\n  - id: a\n    key_sha256: " + apikey.Digest("y"),
		"SharedDigest":  "clients:\n  - id: a\n    key_sha256: " + d + "\n  - id: b\n    key_sha256: " + d,
		"NotYAMLObject": `- a`,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := apikey.Parse([]byte(in))
			require.Error(t, err)
		})
	}
}
