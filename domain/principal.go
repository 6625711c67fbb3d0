package domain

import (
	"slices"
	"time"
)

// ScopeCompositionRead is the scope needed to read composition job status.
const ScopeCompositionRead = "composition:read"

// ScopeCompositionJobWrite is the scope a worker service needs to create and
// finish jobs through the write API.
const ScopeCompositionJobWrite = "composition_job:write"

// Client is an MIS registered with the service.
type Client struct {
	ID   string
	Name string
}

// MaxClientIDLength is the longest client id, in bytes.
const MaxClientIDLength = 255

// ClientIDRule says in words what ValidClientID accepts, for messages.
const ClientIDRule = "must be 1 to 255 visible ASCII characters (no spaces)"

// ValidClientID reports whether id may name an MIS client: 1 to 255
// visible ASCII characters, no space or control character. One rule for
// every way a client id comes in (the write API, the command line, the
// api-keys file and the writers allow-list), so an id accepted by one is
// never refused by another.
func ValidClientID(id string) bool {
	if id == "" || len(id) > MaxClientIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// CheckClientID returns a *ValidationError naming field when id is not
// storable text or breaks ValidClientID.
func CheckClientID(field, id string) error {
	if err := CheckText(field, id); err != nil {
		return err
	}
	if !ValidClientID(id) {
		return &ValidationError{Field: field, Reason: ClientIDRule}
	}
	return nil
}

// Principal is an authenticated caller: a user acting through an MIS client.
type Principal struct {
	ClientID  string
	Subject   string
	Scopes    []string
	ExpiresAt time.Time // when the credential stops being valid
}

// HasScope reports whether the principal was granted scope. Scopes match
// exactly and case-sensitively.
func (p Principal) HasScope(scope string) bool {
	return slices.Contains(p.Scopes, scope)
}

// Require returns a ForbiddenError naming every scope the principal lacks.
func (p Principal) Require(scopes ...string) error {
	var missing []string
	for _, s := range scopes {
		if !p.HasScope(s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return &ForbiddenError{MissingScopes: missing}
	}
	return nil
}
