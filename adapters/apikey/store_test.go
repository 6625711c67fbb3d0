package apikey_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
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

func TestLoadRefusesBadFilesInOneLine(t *testing.T) {
	t.Parallel()
	d, e := apikey.Digest("x"), apikey.Digest("y")
	tests := []struct {
		name string
		file string
		want string // after "api keys file PATH: "
	}{
		{"Empty", ``, "clients: none listed (the file is empty)"},
		{"NoClients", `clients: []`, "clients: none listed"},
		{"UnknownField", "clients:\n  - id: a\n    key: plain\n    key_sha256: " + d, "line 3: field key not found in type apikey.Entry"},
		{"TwoUnknownFields", "clients:\n  - id: a\n    key: plain\n    nmae: x\n    key_sha256: " + d,
			"line 3: field key not found in type apikey.Entry; line 4: field nmae not found in type apikey.Entry"},
		{"NoID", "clients:\n  - id: a\n    key_sha256: " + d + "\n  - key_sha256: " + e, "clients[1]: id is empty"},
		{"ShortDigest", "clients:\n  - id: a\n    key_sha256: abc", `clients[0] (id "a"): key_sha256 must be 64 hex digits (the SHA-256 of the key), got 3 characters`},
		{"NotHex", "clients:\n  - id: a\n    key_sha256: " + d + "\n  - id: b\n    key_sha256: zz" + e[2:],
			`clients[1] (id "b"): key_sha256 must be 64 hex digits (the SHA-256 of the key), got 64 characters`},
		{"IDWithSpace", "clients:\n  - id: bad id!\n    key_sha256: " + d, `clients[0] (id "bad id!"): id ` + domain.ClientIDRule},
		{"IDTooLong", "clients:\n  - id: " + strings.Repeat("c", 256) + "\n    key_sha256: " + d,
			`clients[0] (id "` + strings.Repeat("c", 256) + `"): id ` + domain.ClientIDRule},
		{"IDNonASCII", "clients:\n  - id: mis-é\n    key_sha256: " + d, `clients[0] (id "mis-é"): id ` + domain.ClientIDRule},
		{"EmptyKeyDigest", "clients:\n  - id: a\n    key_sha256: " + apikey.Digest(""),
			`clients[0] (id "a"): key_sha256 is the SHA-256 of an empty key, which no request can send`},
		{"DuplicateID", "clients:\n  - id: a\n    key_sha256: " + d + "\n  - id: a\n    key_sha256: " + e, `clients[1] (id "a"): id already used by clients[0]`},
		{"SharedDigest", "clients:\n  - id: a\n    key_sha256: " + d + "\n  - id: b\n    key_sha256: " + d,
			`clients[1] (id "b"): key_sha256 is the same as clients[0] (id "a"): each client needs its own key`},
		{"NotYAMLObject", `- a`, "line 1: cannot unmarshal !!seq into apikey.fileFormat"},
		// A second document was never read: its clients were dropped, its
		// garbage ignored, with no word.
		{"SecondDocument", "clients:\n  - id: a\n    key_sha256: " + d + "\n---\nclients:\n  - id: b\n    key_sha256: " + e,
			"line 5: a second YAML document; the file must hold one (its keys would be ignored)"},
		{"SecondDocumentGarbage", "clients:\n  - id: a\n    key_sha256: " + d + "\n---\nclinets: x",
			"line 5: a second YAML document; the file must hold one (its keys would be ignored)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "clients.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tt.file), 0o600))
			_, err := apikey.Load(path)
			require.EqualError(t, err, "api keys file "+path+": "+tt.want)
		})
	}
}

func TestLoadNamesAMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing.yaml")
	_, err := apikey.Load(path)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, path)
}

func TestNewRefusesNoClients(t *testing.T) {
	t.Parallel()
	_, err := apikey.New(nil)
	require.EqualError(t, err, "clients: none listed")
}

// TestReplace: after Replace, a new client's key is accepted and a removed
// client's key is refused at once.
func TestReplace(t *testing.T) {
	t.Parallel()
	s, err := apikey.New([]apikey.Entry{{ID: "old", KeySHA256: apikey.Digest("old-key")}})
	require.NoError(t, err)
	next, err := apikey.New([]apikey.Entry{{ID: "new", KeySHA256: apikey.Digest("new-key")}})
	require.NoError(t, err)
	s.Replace(next)
	tests := []struct {
		key    string
		client string // empty: refused
	}{
		{"new-key", "new"},
		{"old-key", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			t.Parallel()
			c, err := s.ClientByAPIKey(context.Background(), tt.key)
			if tt.client == "" {
				var ae *domain.AuthError
				require.ErrorAs(t, err, &ae)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.client, c.ID)
		})
	}
	require.Equal(t, 1, s.Len())
}
