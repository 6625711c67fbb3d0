// Package apikey identifies MIS clients by their api-key. Only SHA-256 digests
// of the keys are ever held; a presented key is hashed and compared in
// constant time against every registered digest.
package apikey

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"go.yaml.in/yaml/v3"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/internal/credfile"
	"github.com/jobstatus/jobstatus/internal/yamlfile"
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

// emptyKeyDigest is sha256(""): an empty api-key header is refused as
// missing, so an entry with this digest could never be used.
var emptyKeyDigest = sha256.Sum256(nil)

// Store is a ports.ClientStore over a list of clients, which Replace
// swaps as a whole (a reloaded file) while requests are served.
type Store struct {
	clients atomic.Pointer[[]registered]
}

// New validates entries and returns a Store. An error names the entry by
// its position in the list (from 0, as clients[i] in the file) and its id.
func New(entries []Entry) (*Store, error) {
	if len(entries) == 0 {
		return nil, errors.New("clients: none listed")
	}
	s := &Store{}
	var clients []registered
	ids := map[string]int{}
	digests := map[[sha256.Size]byte]int{}
	for i, e := range entries {
		if strings.TrimSpace(e.ID) == "" {
			return nil, fmt.Errorf("clients[%d]: id is empty", i)
		}
		at := fmt.Sprintf("clients[%d] (id %q)", i, e.ID)
		if !domain.ValidClientID(e.ID) {
			return nil, fmt.Errorf("%s: id %s", at, domain.ClientIDRule)
		}
		if first, ok := ids[e.ID]; ok {
			return nil, fmt.Errorf("%s: id already used by clients[%d]", at, first)
		}
		raw, err := hex.DecodeString(e.KeySHA256)
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("%s: key_sha256 must be 64 hex digits (the SHA-256 of the key), got %d characters", at, len(e.KeySHA256))
		}
		d := [sha256.Size]byte(raw)
		if d == emptyKeyDigest {
			return nil, fmt.Errorf("%s: key_sha256 is the SHA-256 of an empty key, which no request can send", at)
		}
		if first, ok := digests[d]; ok {
			return nil, fmt.Errorf("%s: key_sha256 is the same as clients[%d] (id %q): each client needs its own key", at, first, entries[first].ID)
		}
		ids[e.ID], digests[d] = i, i
		clients = append(clients, registered{client: domain.Client{ID: e.ID, Name: e.Name}, digest: d})
	}
	s.clients.Store(&clients)
	return s, nil
}

// MaxFileSize bounds the clients file: some ten thousand clients.
const MaxFileSize = 1 << 20

// Load reads the clients file (format in docs/api-keys.md), a regular file
// of at most MaxFileSize bytes (credfile.Read). Its errors are one line
// that names the file, and the entry when one is wrong.
func Load(path string) (*Store, error) {
	data, err := credfile.Read(context.Background(), path, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("api keys file: %w", err) // *fs.PathError names the file
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("api keys file %s: %w", path, err)
	}
	return s, nil
}

// Parse reads the clients file format from data. Unknown fields are errors,
// and so is a second YAML document, so neither a typo nor a "---" can
// silently drop a client.
func Parse(data []byte) (*Store, error) {
	var f fileFormat
	if err := yamlfile.Decode(data, &f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("clients: none listed (the file is empty)")
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, errors.New(strings.Join(te.Errors, "; ")) // one line, however many
		}
		return nil, err
	}
	return New(f.Clients)
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
	clients := *s.clients.Load()
	found := -1
	for i := range clients {
		if subtle.ConstantTimeCompare(sum[:], clients[i].digest[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return domain.Client{}, &domain.AuthError{Credential: domain.CredentialAPIKey, Reason: "unknown api-key"}
	}
	return clients[found].client, nil
}

// Len returns how many clients are registered.
func (s *Store) Len() int { return len(*s.clients.Load()) }

// Replace makes next's clients the registered ones, at once for every
// request that starts afterwards: a client missing from next is refused
// from then on. next is not used afterwards.
func (s *Store) Replace(next *Store) { s.clients.Store(next.clients.Load()) }
