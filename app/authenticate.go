package app

import (
	"context"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// Credentials are what a caller presents: a bearer token and an api-key.
type Credentials struct {
	Token  string
	APIKey string
}

// AuthenticateHandler turns credentials into a principal.
type AuthenticateHandler struct {
	tokens  ports.TokenVerifier
	clients ports.ClientStore
	limits  ports.RateLimiter
}

// NewAuthenticateHandler returns an AuthenticateHandler, or an error for a
// nil dependency. Pass ports.Unlimited when no rate limit applies.
func NewAuthenticateHandler(tokens ports.TokenVerifier, clients ports.ClientStore, limits ports.RateLimiter) (AuthenticateHandler, error) {
	switch {
	case tokens == nil:
		return AuthenticateHandler{}, missing("AuthenticateHandler", "a token verifier")
	case clients == nil:
		return AuthenticateHandler{}, missing("AuthenticateHandler", "a client store")
	case limits == nil:
		return AuthenticateHandler{}, missing("AuthenticateHandler", "a rate limiter")
	}
	return AuthenticateHandler{tokens: tokens, clients: clients, limits: limits}, nil
}

// Handle checks the api-key first (a cheap digest lookup that names the
// client), then the client's rate limit, so a client over its limit costs
// no signature check, then the token, then that the token was issued to
// that client.
func (h AuthenticateHandler) Handle(ctx context.Context, c Credentials) (domain.Principal, error) {
	if h.tokens == nil {
		return domain.Principal{}, errUnwired
	}
	if c.APIKey == "" {
		return domain.Principal{}, &domain.AuthError{Credential: domain.CredentialAPIKey, Reason: "missing"}
	}
	if c.Token == "" {
		return domain.Principal{}, &domain.AuthError{Credential: domain.CredentialToken, Reason: "missing"}
	}
	client, err := h.clients.ClientByAPIKey(ctx, c.APIKey)
	if err != nil {
		return domain.Principal{}, err
	}
	if ok, wait := h.limits.Allow(client.ID); !ok {
		return domain.Principal{}, &domain.RateLimitedError{ClientID: client.ID, RetryAfter: wait}
	}
	return h.token(ctx, c.Token, client.ID)
}

// Recheck checks credentials that were accepted before, for a request
// still being served (an open stream): the api-key and the token as Handle
// does, without the rate limit, so that a revoked key or a key set that
// lost the token's key ends it. Both lookups are cached: a digest lookup
// and, while the key set is unchanged, a token cache hit.
func (h AuthenticateHandler) Recheck(ctx context.Context, c Credentials) (domain.Principal, error) {
	if h.tokens == nil {
		return domain.Principal{}, errUnwired
	}
	client, err := h.clients.ClientByAPIKey(ctx, c.APIKey)
	if err != nil {
		return domain.Principal{}, err
	}
	return h.token(ctx, c.Token, client.ID)
}

// token verifies the token and that it was issued to client.
func (h AuthenticateHandler) token(ctx context.Context, token, client string) (domain.Principal, error) {
	p, err := h.tokens.Verify(ctx, token)
	if err != nil {
		return domain.Principal{}, err
	}
	if p.ClientID != client {
		return domain.Principal{}, &domain.AuthError{Credential: domain.CredentialToken, Reason: "client_id does not match the api-key's client"}
	}
	return p, nil
}
