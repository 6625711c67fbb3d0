// Package jwtauth verifies RFC 9068 access tokens with golang-jwt, taking keys
// from a JWKS (file or URL, through keyfunc/jwkset), and mints tokens for
// development and tests.
package jwtauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	gojwt "github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/jobstatus/jobstatus/domain"
)

// SupportedAlgorithms are the asymmetric algorithms an allow-list may name.
// Symmetric (HS*) and "none" are never accepted: the verification keys are
// public.
var SupportedAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// DefaultAlgorithms is the allow-list SPEC.md prescribes.
var DefaultAlgorithms = []string{"RS256", "ES256", "EdDSA"}

// MaxTokenLength bounds the work spent on a single token.
const MaxTokenLength = 8 << 10

// Config configures a Verifier.
type Config struct {
	Issuer     string
	Audience   string
	Algorithms []string
	Leeway     time.Duration
	// Keys, when set, is used as is (development, tests).
	Keys jwkset.Storage
	// JWKSFile and JWKSURL name where the keys come from; exactly one of
	// Keys, JWKSFile and JWKSURL is set.
	JWKSFile string
	JWKSURL  string
	// JWKSRefresh is how often the URL is fetched again.
	JWKSRefresh time.Duration
	// JWKSUnknownKIDInterval is the least time between fetches triggered by
	// an unknown kid, so a flood of made-up kids cannot hammer the issuer.
	JWKSUnknownKIDInterval time.Duration
	// CacheSize bounds the verified-token cache (entries); zero disables it.
	CacheSize int
	// Now replaces time.Now in tests.
	Now func() time.Time
}

// Verifier is a ports.TokenVerifier.
type Verifier struct {
	parser *gojwt.Parser
	keys   keyfunc.Keyfunc
	cancel context.CancelFunc
	logger *zap.Logger
	now    func() time.Time
	// cache holds principals of verified tokens until they expire, keyed by
	// the token's SHA-256: a repeat costs a hash, not a signature check, and
	// the token itself is never stored.
	cache        *lru.Cache[[sha256.Size]byte, domain.Principal]
	hits, misses atomic.Uint64
	// refreshFailure is the last failed JWKS refresh, if any.
	refreshFailure atomic.Pointer[refreshFailure]
}

type refreshFailure struct {
	at  time.Time
	err error
}

// NewVerifier validates cfg and loads the keys. A JWKS URL that cannot be
// reached at start is not fatal: keys are fetched again in the background.
func NewVerifier(cfg Config, logger *zap.Logger) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("jwt: issuer is required")
	}
	if cfg.Audience == "" {
		return nil, errors.New("jwt: audience is required")
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = DefaultAlgorithms
	}
	for _, a := range algs {
		if !slices.Contains(SupportedAlgorithms, a) {
			return nil, fmt.Errorf("jwt: algorithm %q is not allowed (choose from %s)", a, strings.Join(SupportedAlgorithms, ","))
		}
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	v := &Verifier{cancel: cancel, logger: logger}
	keys, err := loadKeys(ctx, cfg, logger, func(err error) {
		v.refreshFailure.Store(&refreshFailure{at: time.Now(), err: err})
	})
	if err != nil {
		cancel()
		return nil, err
	}
	v.keys = keys
	opts := []gojwt.ParserOption{
		gojwt.WithValidMethods(algs),
		gojwt.WithIssuer(cfg.Issuer),
		gojwt.WithAudience(cfg.Audience),
		gojwt.WithExpirationRequired(),
		gojwt.WithIssuedAt(),
		gojwt.WithStrictDecoding(),
		gojwt.WithLeeway(cfg.Leeway),
	}
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
		opts = append(opts, gojwt.WithTimeFunc(cfg.Now))
	}
	v.parser, v.now = gojwt.NewParser(opts...), now
	if cfg.CacheSize > 0 {
		if v.cache, err = lru.New[[sha256.Size]byte, domain.Principal](cfg.CacheSize); err != nil {
			cancel()
			return nil, err
		}
	}
	return v, nil
}

func loadKeys(ctx context.Context, cfg Config, logger *zap.Logger, onRefreshError func(error)) (keyfunc.Keyfunc, error) {
	set := 0
	for _, b := range []bool{cfg.Keys != nil, cfg.JWKSFile != "", cfg.JWKSURL != ""} {
		if b {
			set++
		}
	}
	if set != 1 {
		return nil, errors.New("jwt: configure exactly one key source (JWKS file or JWKS URL)")
	}
	switch {
	case cfg.Keys != nil:
		return keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: cfg.Keys})
	case cfg.JWKSFile != "":
		data, err := os.ReadFile(cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("jwt: read JWKS file: %w", err)
		}
		var m jwkset.JWKSMarshal
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("jwt: JWKS file %s is not a JWK Set: %w", cfg.JWKSFile, err)
		}
		store, err := m.ToStorage()
		if err != nil {
			return nil, fmt.Errorf("jwt: JWKS file %s: %w", cfg.JWKSFile, err)
		}
		all, err := store.KeyReadAll(ctx)
		if err != nil || len(all) == 0 {
			return nil, fmt.Errorf("jwt: JWKS file %s holds no usable key", cfg.JWKSFile)
		}
		return keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: store})
	default:
		refresh := cfg.JWKSRefresh
		if refresh <= 0 {
			refresh = 15 * time.Minute
		}
		unknown := cfg.JWKSUnknownKIDInterval
		if unknown <= 0 {
			unknown = time.Minute
		}
		return keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
			HTTPTimeout:      5 * time.Second,
			RefreshInterval:  refresh,
			RateLimitWaitMax: 5 * time.Second,
			// A waiting request would hold a connection: Wait fails at once
			// when the next token is further away than RateLimitWaitMax.
			RefreshUnknownKID: rate.NewLimiter(rate.Every(unknown), 1),
			RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
				return func(_ context.Context, err error) {
					onRefreshError(err)
					logger.Warn("JWKS refresh failed; keeping the last good keys", zap.String("url", u), zap.Error(err))
				}
			},
		})
	}
}

// Ready reports how many verification keys are loaded, and says when the
// last JWKS refresh failed; it fails only when no key is loaded.
func (v *Verifier) Ready(ctx context.Context) (string, error) {
	all, err := v.keys.Storage().KeyReadAll(ctx)
	if err != nil {
		return "", fmt.Errorf("read keys: %w", err)
	}
	detail := fmt.Sprintf("%d verification keys", len(all))
	if f := v.refreshFailure.Load(); f != nil {
		detail += fmt.Sprintf("; last JWKS refresh failed at %s (%v), using the last good keys",
			f.at.UTC().Format(time.RFC3339), f.err)
	}
	if len(all) == 0 {
		return "", errors.New("no verification keys loaded: " + detail)
	}
	return detail, nil
}

// Close stops background key refreshes.
func (v *Verifier) Close() { v.cancel() }

// forbiddenHeaders name keys or key locations chosen by the token itself, or
// extensions the service does not understand (RFC 8725 sections 3.10, 2.1;
// RFC 7515 section 4.1.11).
var forbiddenHeaders = []string{"crit", "jwk", "jku", "x5u", "x5c"}

var (
	errHeader = errors.New("header not accepted")
	errKey    = errors.New("no usable key")
)

// Verify implements ports.TokenVerifier.
func (v *Verifier) Verify(ctx context.Context, token string) (domain.Principal, error) {
	if v.cache == nil {
		return v.verify(ctx, token)
	}
	key := sha256.Sum256([]byte(token))
	if p, ok := v.cache.Get(key); ok {
		if v.now().Before(p.ExpiresAt) {
			v.hits.Add(1)
			return p, nil
		}
		v.cache.Remove(key)
	}
	v.misses.Add(1)
	p, err := v.verify(ctx, token)
	if err == nil {
		v.cache.Add(key, p)
	}
	return p, err
}

// CacheStats returns verified-token cache hits and misses.
func (v *Verifier) CacheStats() (hits, misses uint64) { return v.hits.Load(), v.misses.Load() }

func (v *Verifier) verify(ctx context.Context, token string) (domain.Principal, error) {
	if reason := shape(token); reason != "" {
		return domain.Principal{}, tokenError(reason)
	}
	var claims Claims
	_, err := v.parser.ParseWithClaims(token, &claims, func(t *gojwt.Token) (any, error) {
		for _, h := range forbiddenHeaders {
			if _, ok := t.Header[h]; ok {
				return nil, fmt.Errorf("%w: %q", errHeader, h)
			}
		}
		if typ, ok := t.Header["typ"]; ok && !acceptedType(typ) {
			return nil, fmt.Errorf("%w: \"typ\" is not an access token type", errHeader)
		}
		if kid, ok := t.Header["kid"]; ok {
			if s, isStr := kid.(string); !isStr || s == "" {
				return nil, fmt.Errorf("%w: \"kid\" must be a non-empty string", errHeader)
			}
		}
		key, err := v.keys.KeyfuncCtx(ctx)(t)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errKey, err)
		}
		return key, nil
	})
	if err != nil {
		return domain.Principal{}, tokenError(reason(err))
	}
	return domain.Principal{ClientID: claims.ClientID, Subject: claims.Subject, Scopes: claims.Scopes(),
		ExpiresAt: claims.ExpiresAt.Time}, nil
}

// shape rejects what is not a compact JWS before any decoding: only
// base64url characters and exactly two dots.
func shape(token string) string {
	if len(token) > MaxTokenLength {
		return "too long"
	}
	dots := 0
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c == '.':
			dots++
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return "malformed"
		}
	}
	if dots != 2 {
		return "malformed"
	}
	return ""
}

func acceptedType(typ any) bool {
	s, ok := typ.(string)
	if !ok {
		return false
	}
	switch strings.ToLower(s) {
	case "jwt", "at+jwt", "application/at+jwt":
		return true
	}
	return false
}

// reason names the failure for logs and metrics, never for the client.
func reason(err error) string {
	switch {
	case errors.Is(err, errHeader):
		return "header not accepted"
	case errors.Is(err, errKey):
		return "no matching key"
	case errors.Is(err, gojwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, gojwt.ErrTokenNotValidYet):
		return "not yet valid"
	case errors.Is(err, gojwt.ErrTokenUsedBeforeIssued):
		return "issued in the future"
	case errors.Is(err, gojwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, gojwt.ErrTokenInvalidAudience):
		return "wrong audience"
	case errors.Is(err, gojwt.ErrTokenRequiredClaimMissing):
		return "required claim missing"
	case errors.Is(err, gojwt.ErrTokenSignatureInvalid):
		return "bad signature or algorithm"
	case errors.Is(err, gojwt.ErrTokenUnverifiable):
		return "unverifiable"
	case errors.Is(err, errClaims):
		return "malformed claims"
	case errors.Is(err, gojwt.ErrTokenMalformed):
		return "malformed"
	}
	return "invalid"
}

func tokenError(reason string) error {
	return &domain.AuthError{Credential: domain.CredentialToken, Reason: reason}
}
