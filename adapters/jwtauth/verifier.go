// Package jwtauth verifies RFC 9068 access tokens with golang-jwt, taking keys
// from a JWK Set (file, URL or memory) that one parser validates, and mints
// tokens for development and tests.
package jwtauth

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/MicahParks/jwkset"
	gojwt "github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/internal/jsontext"
)

// SupportedAlgorithms are the asymmetric algorithms an allow-list may name.
// Symmetric (HS*) and "none" are never accepted: the verification keys are
// public.
var SupportedAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// DefaultAlgorithms is the default allow-list: RS256, ES256 and EdDSA.
var DefaultAlgorithms = []string{"RS256", "ES256", "EdDSA"}

// MaxTokenLength bounds the work spent on a single token.
const MaxTokenLength = 8 << 10

// Config configures a Verifier. Every value is explicit: NewVerifier
// refuses what is missing or out of range instead of choosing for the caller.
type Config struct {
	Issuer   string
	Audience string
	// Algorithms is the allow-list, a non-empty subset of SupportedAlgorithms.
	Algorithms []string
	// Leeway is the clock skew tolerated on exp, nbf and iat; zero or more.
	Leeway time.Duration
	// RequireAccessTokenType refuses every token whose "typ" is not at+jwt
	// or application/at+jwt (RFC 9068 section 4); when false, "JWT" and no
	// "typ" are accepted too.
	RequireAccessTokenType bool
	// Keys, when set, is used as is (development, tests).
	Keys jwkset.Storage
	// JWKSFile and JWKSURL name where the keys come from; exactly one of
	// Keys, JWKSFile and JWKSURL is set.
	JWKSFile string
	JWKSURL  string
	// JWKSRefresh is how often the URL is fetched again; above zero when
	// JWKSURL is set.
	JWKSRefresh time.Duration
	// JWKSUnknownKIDInterval is the least time between fetches triggered by
	// an unknown kid, so a flood of made-up kids cannot hammer the issuer;
	// above zero when JWKSURL is set.
	JWKSUnknownKIDInterval time.Duration
	// CacheSize bounds the verified-token cache (entries); zero means no
	// cache, a negative size is refused.
	CacheSize int
	// Now replaces time.Now in tests.
	Now func() time.Time
	// HTTPClient replaces the client that fetches JWKSURL (tests).
	HTTPClient *http.Client
}

// Verifier is a ports.TokenVerifier.
type Verifier struct {
	parser *gojwt.Parser
	keys   *source
	// strictType: only at+jwt (Config.RequireAccessTokenType).
	strictType bool
	cancel     context.CancelFunc
	now        func() time.Time
	// cache holds principals of verified tokens until they expire, keyed by
	// the token's SHA-256: a repeat costs a hash, not a signature check, and
	// the token itself is never stored. An entry remembers the key-set
	// generation it was verified under and is not used once a key left.
	// A hit only reads (Peek, a shared lock): every request looks its
	// token up, and an exclusive lock to move the entry to the front made
	// all of them wait on each other. Entries leave in the order they came
	// (or when they expire); a token that left while in use is verified
	// once more.
	cache        *lru.Cache[[sha256.Size]byte, cached]
	hits, misses atomic.Uint64
}

type cached struct {
	principal domain.Principal
	gen       uint64
}

// ClaimValueRule says in words what ValidClaimValue accepts, for messages.
const ClaimValueRule = "must not be blank or start or end with spaces"

// ValidClaimValue reports whether v may be the issuer or audience tokens
// are checked against, or minted with: tokens carry the exact value, so a
// blank or padded one would match no token the issuer signs.
func ValidClaimValue(v string) bool {
	return v != "" && strings.TrimSpace(v) == v
}

func (cfg Config) validate() error {
	switch {
	case cfg.Issuer == "":
		return errors.New("jwt: issuer is required")
	case cfg.Audience == "":
		return errors.New("jwt: audience is required")
	case !ValidClaimValue(cfg.Issuer):
		return fmt.Errorf("jwt: issuer %q %s", cfg.Issuer, ClaimValueRule)
	case !ValidClaimValue(cfg.Audience):
		return fmt.Errorf("jwt: audience %q %s", cfg.Audience, ClaimValueRule)
	case len(cfg.Algorithms) == 0:
		return errors.New("jwt: the algorithm allow-list is empty")
	case cfg.Leeway < 0:
		return fmt.Errorf("jwt: leeway %s is negative", cfg.Leeway)
	case cfg.CacheSize < 0:
		return fmt.Errorf("jwt: token cache size %d is negative", cfg.CacheSize)
	}
	for _, a := range cfg.Algorithms {
		if !slices.Contains(SupportedAlgorithms, a) {
			return fmt.Errorf("jwt: algorithm %q is not allowed (choose from %s)", a, strings.Join(SupportedAlgorithms, ","))
		}
	}
	set := 0
	for _, b := range []bool{cfg.Keys != nil, cfg.JWKSFile != "", cfg.JWKSURL != ""} {
		if b {
			set++
		}
	}
	if set != 1 {
		return errors.New("jwt: configure exactly one key source (JWKS file or JWKS URL)")
	}
	if cfg.JWKSURL != "" {
		if cfg.JWKSRefresh <= 0 {
			return fmt.Errorf("jwt: JWKS refresh interval %s must be above zero", cfg.JWKSRefresh)
		}
		if cfg.JWKSUnknownKIDInterval <= 0 {
			return fmt.Errorf("jwt: JWKS unknown-kid interval %s must be above zero", cfg.JWKSUnknownKIDInterval)
		}
		if u, err := url.Parse(cfg.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("jwt: JWKS URL %q is not an http(s) URL", redactURL(cfg.JWKSURL))
		}
	}
	return nil
}

// NewVerifier validates cfg and loads the keys. A JWKS file with no usable
// key is an error naming the file and each key with what is wrong; a JWKS
// URL that cannot be reached or holds no usable key at start is not fatal:
// keys are fetched again in the background and Ready says why it is not
// ready meanwhile.
func NewVerifier(cfg Config, logger *zap.Logger) (*Verifier, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	v := &Verifier{cancel: cancel, keys: newSource(logger), strictType: cfg.RequireAccessTokenType}
	if cfg.CacheSize > 0 {
		var err error
		if v.cache, err = lru.New[[sha256.Size]byte, cached](cfg.CacheSize); err != nil {
			cancel()
			return nil, fmt.Errorf("jwt: token cache: %w", err)
		}
	}
	if err := v.loadKeys(ctx, cfg); err != nil {
		cancel()
		return nil, err
	}
	opts := []gojwt.ParserOption{
		gojwt.WithValidMethods(cfg.Algorithms),
		gojwt.WithIssuer(cfg.Issuer),
		gojwt.WithAudience(cfg.Audience),
		gojwt.WithExpirationRequired(),
		gojwt.WithIssuedAt(),
		gojwt.WithStrictDecoding(),
		gojwt.WithLeeway(cfg.Leeway),
	}
	v.now = time.Now
	if cfg.Now != nil {
		v.now = cfg.Now
		opts = append(opts, gojwt.WithTimeFunc(cfg.Now))
	}
	v.parser = gojwt.NewParser(opts...)
	return v, nil
}

func (v *Verifier) loadKeys(ctx context.Context, cfg Config) error {
	switch {
	case cfg.Keys != nil:
		raw, err := cfg.Keys.JSONPublic(ctx)
		if err != nil {
			return fmt.Errorf("jwt: keys: %w", err)
		}
		set, err := v.keys.install(raw, "in memory")
		if err != nil {
			return fmt.Errorf("jwt: %w", err)
		}
		if set.Len() == 0 {
			return fmt.Errorf("jwt: no usable verification key: %s", set.skippedSummary())
		}
	case cfg.JWKSFile != "":
		v.keys.file = cfg.JWKSFile
		return v.loadFile()
	default:
		v.keys.url = cfg.JWKSURL
		v.keys.shownURL = redactURL(cfg.JWKSURL)
		v.keys.client = cfg.HTTPClient
		if v.keys.client == nil {
			v.keys.client = &http.Client{Timeout: jwksHTTPTimeout}
		}
		v.keys.unknown = rate.NewLimiter(rate.Every(cfg.JWKSUnknownKIDInterval), 1)
		v.keys.unknown.Allow() // the first fetch is the one below
		_ = v.keys.fetch(ctx)
		go v.keys.refreshLoop(ctx, cfg.JWKSRefresh)
	}
	return nil
}

// loadFile reads the JWKS file; a file without a usable key is an error in
// one line naming the file and each key with what is wrong.
func (v *Verifier) loadFile() error {
	set, err := v.keys.loadFile()
	if err != nil {
		return fmt.Errorf("jwt: %w", err)
	}
	if set.Len() == 0 {
		return fmt.Errorf("jwt: JWKS file %s holds no usable verification key: %s", v.keys.file, set.skippedSummary())
	}
	return nil
}

// Reload reads the key source again now: the JWKS file, or the JWKS URL.
// Tokens verified with a key that is gone are refused from then on, cached
// or not. A document that is not a JWK Set leaves the keys as they were; a
// set is used as it is, like a refresh from the URL, even when none of its
// keys is usable (then Reload and Ready say so).
func (v *Verifier) Reload(ctx context.Context) error {
	switch {
	case v.keys.file != "":
		return v.loadFile()
	case v.keys.url != "":
		return v.keys.fetch(ctx)
	}
	return nil
}

// Ready reports how many verification keys are usable, which were skipped
// and whether the last JWKS refresh failed; it fails when no key is usable.
func (v *Verifier) Ready(context.Context) (string, error) { return v.keys.ready() }

// SkippedKeys counts the JWKs ignored as unusable since start, one per key
// per load, for the jobstatus_jwks_keys_skipped_total metric.
func (v *Verifier) SkippedKeys() uint64 { return v.keys.skipped.Load() }

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
	key := tokenKey(token)
	if c, ok := v.cache.Peek(key); ok {
		if c.gen == v.keys.current.Load().gen && v.now().Before(c.principal.ExpiresAt) {
			v.hits.Add(1)
			return c.principal, nil
		}
		v.cache.Remove(key)
	}
	v.misses.Add(1)
	gen := v.keys.current.Load().gen
	p, err := v.verify(ctx, token)
	// A key set that changed meanwhile may have lost the key; the check on
	// reading the entry would drop it anyway, this saves the slot.
	if err == nil && gen == v.keys.current.Load().gen {
		v.cache.Add(key, cached{principal: p, gen: gen})
	}
	return p, err
}

// tokenKey is the token's SHA-256, hashed in place: a token is some 700
// bytes, and copying it to a []byte first was the one allocation of a
// cache hit. Sum256 only reads the bytes.
func tokenKey(token string) [sha256.Size]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// CacheStats returns verified-token cache hits and misses.
func (v *Verifier) CacheStats() (hits, misses uint64) { return v.hits.Load(), v.misses.Load() }

// CacheLen returns how many verified tokens the cache holds.
func (v *Verifier) CacheLen() int {
	if v.cache == nil {
		return 0
	}
	return v.cache.Len()
}

// strictPSS verify RSASSA-PSS with a salt as long as the hash, as RFC 7518
// section 3.5 requires; golang-jwt's own methods accept any salt length.
var strictPSS = map[string]*gojwt.SigningMethodRSAPSS{}

func init() {
	for _, m := range []*gojwt.SigningMethodRSAPSS{gojwt.SigningMethodPS256, gojwt.SigningMethodPS384, gojwt.SigningMethodPS512} {
		strictPSS[m.Alg()] = &gojwt.SigningMethodRSAPSS{
			SigningMethodRSA: m.SigningMethodRSA,
			Options:          &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash},
			VerifyOptions:    &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash},
		}
	}
}

func (v *Verifier) verify(ctx context.Context, token string) (domain.Principal, error) {
	if reason := shape(token); reason != "" {
		return domain.Principal{}, tokenError(reason)
	}
	if !validUTF8Header(token) {
		return domain.Principal{}, tokenError("malformed")
	}
	var claims Claims
	_, err := v.parser.ParseWithClaims(token, &claims, func(t *gojwt.Token) (any, error) {
		return v.keyFor(ctx, t)
	})
	if err != nil {
		return domain.Principal{}, tokenError(reason(err))
	}
	return domain.Principal{ClientID: claims.ClientID, Subject: claims.Subject, Scopes: claims.Scopes(),
		ExpiresAt: claims.ExpiresAt.Time}, nil
}

// keyFor checks the header and picks the keys that may verify the token:
// its kid, and a key of the type, curve and size its alg needs.
func (v *Verifier) keyFor(ctx context.Context, t *gojwt.Token) (any, error) {
	for _, h := range forbiddenHeaders {
		if _, ok := t.Header[h]; ok {
			return nil, fmt.Errorf("%w: %q", errHeader, h)
		}
	}
	typ, hasType := t.Header["typ"]
	if (hasType || v.strictType) && !acceptedType(typ, v.strictType) {
		return nil, fmt.Errorf("%w: \"typ\" is not an access token type", errHeader)
	}
	kidValue, named := t.Header["kid"]
	kid, isStr := kidValue.(string)
	if named && (!isStr || kid == "") {
		return nil, fmt.Errorf("%w: \"kid\" must be a non-empty string", errHeader)
	}
	alg := t.Method.Alg()
	found := v.keys.current.Load().set.candidates(kid, named, alg)
	if len(found) == 0 && v.keys.refetchForUnknownKID(ctx) {
		found = v.keys.current.Load().set.candidates(kid, named, alg)
	}
	switch {
	case len(found) == 0 && named:
		return nil, fmt.Errorf("%w: kid %q for %s", errKey, kid, alg)
	case len(found) == 0:
		return nil, fmt.Errorf("%w: no kid, no key for %s", errKey, alg)
	case !named && len(found) > MaxKeysWithoutKID:
		return nil, fmt.Errorf("%w: no kid, and %d keys fit %s (at most %d are tried)", errKey, len(found), alg, MaxKeysWithoutKID)
	}
	if m, ok := strictPSS[alg]; ok {
		t.Method = m
	}
	if len(found) == 1 {
		return found[0].key, nil
	}
	set := gojwt.VerificationKeySet{}
	for _, k := range found {
		set.Keys = append(set.Keys, k.key)
	}
	return set, nil
}

// validUTF8Header refuses a JOSE header that is not valid UTF-8 (RFC 7515
// section 5.2); golang-jwt would read it with replacement characters. The
// claims are checked in Claims.UnmarshalJSON.
func validUTF8Header(token string) bool {
	seg, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	return err != nil || jsontext.Valid(raw) // undecodable: the parser says malformed
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

// acceptedType reports whether typ names an access token: at+jwt, with or
// without "application/", in any case (media types are case-insensitive,
// RFC 7515 section 4.1.9, RFC 9068 section 4); unless strict, JWT too.
func acceptedType(typ any, strict bool) bool {
	s, ok := typ.(string)
	if !ok {
		return false
	}
	switch strings.ToLower(s) {
	case "at+jwt", "application/at+jwt":
		return true
	case "jwt":
		return !strict
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
