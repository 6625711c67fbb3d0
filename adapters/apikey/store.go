// Package apikey identifies MIS clients by their api-key. Only SHA-256 digests
// of the keys are ever held; a presented key is hashed and compared in
// constant time against every registered digest.
package apikey

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/jobstatus/jobstatus/domain"
)

// Entry is one registered client and the digest of its key.
type Entry struct {
	ID        string `yaml:"id"`
	Name      string `yaml:"name"`
	KeySHA256 string `yaml:"key_sha256"`
}

type fileFormat struct {
	Clients []Entry `yaml:"clients"`
}

type registered struct {
	client domain.Client
	digest [sha256.Size]byte
}

// Store is a ports.ClientStore over a fixed list of clients.
type Store struct {
	clients []registered
}

// New validates entries and returns a Store.
func New(entries []Entry) (*Store, error) {
	s := &Store{}
	ids := map[string]bool{}
	digests := map[[sha256.Size]byte]bool{}
	for i, e := range entries {
		if strings.TrimSpace(e.ID) == "" {
			return nil, fmt.Errorf("client #%d: id is empty", i+1)
		}
		if ids[e.ID] {
			return nil, fmt.Errorf("client %q: listed twice", e.ID)
		}
		raw, err := hex.DecodeString(e.KeySHA256)
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("client %q: key_sha256 must be 64 hex digits", e.ID)
		}
		var d [sha256.Size]byte
		copy(d[:], raw)
		if digests[d] {
			return nil, fmt.Errorf("client %q: key_sha256 is shared with another client", e.ID)
		}
		ids[e.ID], digests[d] = true, true
		s.clients = append(s.clients, registered{client: domain.Client{ID: e.ID, Name: e.Name}, digest: d})
	}
	return s, nil
}

// Load reads the clients file described in SPEC.md.
func Load(path string) (*Store, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read api keys file: %w", err)
	}
	return Parse(data)
}

// Parse reads the clients file format from data. Unknown fields are errors,
// so a typo cannot silently drop a client.
func Parse(data []byte) (*Store, error) {
	var f fileFormat
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse api keys file: %w", err)
	}
	if len(f.Clients) == 0 {
		return nil, fmt.Errorf("parse api keys file: no clients listed")
	}
	s, err := New(f.Clients)
	if err != nil {
		return nil, fmt.Errorf("parse api keys file: %w", err)
	}
	return s, nil
}

// Digest returns the hex SHA-256 digest under which key is registered.
func Digest(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// ClientByAPIKey implements ports.ClientStore. It compares against every
// digest without stopping early, so timing says nothing about which matched.
func (s *Store) ClientByAPIKey(_ context.Context, key string) (domain.Client, error) {
	if key == "" {
		return domain.Client{}, &domain.AuthError{Credential: domain.CredentialAPIKey, Reason: "missing"}
	}
	sum := sha256.Sum256([]byte(key))
	found := -1
	for i := range s.clients {
		if subtle.ConstantTimeCompare(sum[:], s.clients[i].digest[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return domain.Client{}, &domain.AuthError{Credential: domain.CredentialAPIKey, Reason: "unknown api-key"}
	}
	return s.clients[found].client, nil
}

// Len returns how many clients are registered.
func (s *Store) Len() int { return len(s.clients) }
