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
	limits  ports.RateLimiter // nil: no limit
}

// NewAuthenticateHandler returns an AuthenticateHandler; it panics on nil deps.
// limits may be nil for no rate limit.
func NewAuthenticateHandler(tokens ports.TokenVerifier, clients ports.ClientStore, limits ports.RateLimiter) AuthenticateHandler {
	if tokens == nil || clients == nil {
		panic("app: nil dependency for AuthenticateHandler")
	}
	return AuthenticateHandler{tokens: tokens, clients: clients, limits: limits}
}

// Handle checks the api-key first (a cheap digest lookup that names the
// client), then the client's rate limit, so a client over its limit costs
// no signature check, then the token, then that the token was issued to
// that client.
func (h AuthenticateHandler) Handle(ctx context.Context, c Credentials) (domain.Principal, error) {
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
	if h.limits != nil {
		if ok, wait := h.limits.Allow(client.ID); !ok {
			return domain.Principal{}, &domain.RateLimitedError{ClientID: client.ID, RetryAfter: wait}
		}
	}
	p, err := h.tokens.Verify(ctx, c.Token)
	if err != nil {
		return domain.Principal{}, err
	}
	if p.ClientID != client.ID {
		return domain.Principal{}, &domain.AuthError{Credential: domain.CredentialToken, Reason: "client_id does not match the api-key's client"}
	}
	return p, nil
}
