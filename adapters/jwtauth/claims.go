package jwtauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/jobstatus/jobstatus/internal/jsontext"
)

// Claims are the RFC 9068 access-token claims the service reads.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  gojwt.ClaimStrings
	ExpiresAt *gojwt.NumericDate
	NotBefore *gojwt.NumericDate
	IssuedAt  *gojwt.NumericDate
	ClientID  string
	Scope     string
	JWTID     string
}

var errClaims = errors.New("invalid claims")

// UnmarshalJSON reads the claims strictly: names match exactly (a
// case-variant of a registered claim is just an unknown claim), dates must be
// JSON numbers, and strings must be strings.
func (c *Claims) UnmarshalJSON(data []byte) error {
	if !jsontext.Valid(data) {
		return fmt.Errorf("%w: payload is not valid UTF-8 (RFC 7519 section 7.2)", errClaims)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("%w: payload is not a JSON object", errClaims)
	}
	var err error
	str := func(name string, dst *string) {
		if v, ok := raw[name]; ok && err == nil {
			if e := json.Unmarshal(v, dst); e != nil || !isJSONString(v) {
				err = fmt.Errorf("%w: %q must be a string", errClaims, name)
			}
		}
	}
	date := func(name string) *gojwt.NumericDate {
		v, ok := raw[name]
		if !ok || err != nil {
			return nil
		}
		d, e := numericDate(v)
		if e != nil {
			err = fmt.Errorf("%w: %q %v", errClaims, name, e)
			return nil
		}
		return d
	}
	str("iss", &c.Issuer)
	str("sub", &c.Subject)
	str("client_id", &c.ClientID)
	str("scope", &c.Scope)
	str("jti", &c.JWTID)
	c.ExpiresAt = date("exp")
	c.NotBefore = date("nbf")
	c.IssuedAt = date("iat")
	if v, ok := raw["aud"]; ok && err == nil {
		c.Audience, err = audience(v)
	}
	return err
}

func isJSONString(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && v[0] == '"'
}

// numericDate accepts only a JSON number (RFC 7519 NumericDate), never a
// string that happens to hold digits.
func numericDate(v json.RawMessage) (*gojwt.NumericDate, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
		return nil, errors.New("must be a JSON number")
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, errors.New("must be a finite number")
	}
	if f < 0 || f > 1<<40 {
		return nil, errors.New("is out of range")
	}
	sec, frac := math.Modf(f)
	return gojwt.NewNumericDate(time.Unix(int64(sec), int64(frac*1e9))), nil
}

func audience(v json.RawMessage) (gojwt.ClaimStrings, error) {
	v = bytes.TrimSpace(v)
	if isJSONString(v) {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("%w: \"aud\" must be a string or an array of strings", errClaims)
		}
		return gojwt.ClaimStrings{s}, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(v, &list); err != nil {
		return nil, fmt.Errorf("%w: \"aud\" must be a string or an array of strings", errClaims)
	}
	out := make(gojwt.ClaimStrings, 0, len(list))
	for _, item := range list {
		var s string
		if !isJSONString(item) || json.Unmarshal(item, &s) != nil {
			return nil, fmt.Errorf("%w: \"aud\" must be a string or an array of strings", errClaims)
		}
		out = append(out, s)
	}
	return out, nil
}

// ScopeRule says in words what ParseScope accepts, for messages.
const ScopeRule = `must be one or more scope tokens of visible ASCII but " and \, separated by single spaces`

// ParseScope returns the tokens of a scope claim (RFC 9068 section 2.2.3),
// which follows RFC 6749 section 3.3: tokens of %x21 / %x23-5B / %x5D-7E
// separated by single spaces. ok is false for an empty claim and for one
// that breaks the grammar: either grants nothing, never the part that
// happens to parse. The verifier reads tokens with it, and the token
// command refuses what it would not read.
func ParseScope(claim string) (tokens []string, ok bool) {
	if claim == "" {
		return nil, false
	}
	tokens = strings.Split(claim, " ")
	for _, tok := range tokens {
		if tok == "" {
			return nil, false
		}
		for i := 0; i < len(tok); i++ {
			if b := tok[i]; b < 0x21 || b == 0x22 || b == 0x5C || b > 0x7E {
				return nil, false
			}
		}
	}
	return tokens, true
}

// Scopes returns the scope claim's tokens (ParseScope), none when the
// claim is empty or malformed.
func (c *Claims) Scopes() []string {
	tokens, _ := ParseScope(c.Scope)
	return tokens
}

// Validate is called by the parser after the registered claims were checked.
func (c *Claims) Validate() error {
	if c.Subject == "" {
		return fmt.Errorf("%w: \"sub\" is required", gojwt.ErrTokenRequiredClaimMissing)
	}
	if c.ClientID == "" {
		return fmt.Errorf("%w: \"client_id\" is required", gojwt.ErrTokenRequiredClaimMissing)
	}
	return nil
}

// GetExpirationTime implements gojwt.Claims.
func (c *Claims) GetExpirationTime() (*gojwt.NumericDate, error) { return c.ExpiresAt, nil }

// GetIssuedAt implements gojwt.Claims.
func (c *Claims) GetIssuedAt() (*gojwt.NumericDate, error) { return c.IssuedAt, nil }

// GetNotBefore implements gojwt.Claims.
func (c *Claims) GetNotBefore() (*gojwt.NumericDate, error) { return c.NotBefore, nil }

// GetIssuer implements gojwt.Claims.
func (c *Claims) GetIssuer() (string, error) { return c.Issuer, nil }

// GetSubject implements gojwt.Claims.
func (c *Claims) GetSubject() (string, error) { return c.Subject, nil }

// GetAudience implements gojwt.Claims.
func (c *Claims) GetAudience() (gojwt.ClaimStrings, error) { return c.Audience, nil }
