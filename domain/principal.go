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
