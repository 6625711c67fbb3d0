package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/bootstrap"
	"github.com/jobstatus/jobstatus/domain"
)

// tokenOptions are the flags of `jobstatus token`.
type tokenOptions struct {
	KeyFile  string
	Client   string
	Scope    string // space-separated
	Subject  string
	Issuer   string // empty: JOBSTATUS_AUTH_ISSUER
	Audience string // empty: JOBSTATUS_AUTH_AUDIENCE
	TTL      time.Duration
}

// Validate refuses missing flags and values that make a token no service
// accepts: a lifetime that is not positive (a token that expires at once,
// or a silently substituted one, helps nobody), an impossible client id,
// an empty subject, a scope the verifier reads as none, and an issuer or
// audience padded with spaces.
func (o tokenOptions) Validate() error {
	switch {
	case o.KeyFile == "":
		return usagef("--key is required")
	case o.Client == "":
		return usagef("--client is required")
	case o.TTL <= 0:
		return usagef("--ttl must be positive, got %s", bootstrap.FormatDuration(o.TTL))
	case o.Subject == "":
		return usagef(`--subject must not be empty: the service refuses a token without "sub"`)
	}
	// The one client-id rule: a token for an id no client can have would
	// only be refused later, by the service.
	if err := domain.CheckClientID("client", o.Client); err != nil {
		return err
	}
	// The verifier's scope rule: an empty or malformed scope grants
	// nothing, and every request with the token would be refused (403).
	if _, ok := jwtauth.ParseScope(o.Scope); !ok {
		return &domain.ValidationError{Field: "scope", Reason: jwtauth.ScopeRule}
	}
	// An empty --issuer or --audience means the setting (runToken).
	for _, c := range []struct{ field, v string }{{"issuer", o.Issuer}, {"audience", o.Audience}} {
		if c.v != "" && !jwtauth.ValidClaimValue(c.v) {
			return &domain.ValidationError{Field: c.field, Reason: jwtauth.ClaimValueRule}
		}
	}
	return nil
}

func newTokenCmd(stdio IO) *cobra.Command {
	var o tokenOptions
	cmd := &cobra.Command{
		Use:   "token --key FILE --client ID [--scope S] [--ttl D]",
		Short: "Mint an access token (development and tests)",
		Long: `Mint an RFC 9068 access token signed with a key from keygen. Issuer and
audience come from --issuer/--audience or JOBSTATUS_AUTH_ISSUER and
JOBSTATUS_AUTH_AUDIENCE. A token no service would accept is not minted:
an empty or malformed --scope (scope tokens separated by single spaces),
an empty --subject, a blank or padded issuer or audience, a key whose
algorithm JOBSTATUS_AUTH_ALGORITHMS does not allow, or a key the key set
would refuse (an RSA key under 2048 bits).

Example:
  jobstatus token --key key.pem --client mis-alpha --ttl 15m`,
		Args: args(cobra.NoArgs),
		RunE: runE(&o, nil, func(context.Context) error { return runToken(stdio, o) }),
	}
	cmd.Flags().StringVar(&o.KeyFile, "key", "", "PEM private key (required)")
	cmd.Flags().StringVar(&o.Client, "client", "", "client_id claim (required)")
	cmd.Flags().StringVar(&o.Scope, "scope", domain.ScopeCompositionRead, "scope tokens, separated by single spaces")
	cmd.Flags().DurationVar(&o.TTL, "ttl", time.Hour, "lifetime, positive")
	cmd.Flags().StringVar(&o.Subject, "subject", "dev-user", "sub claim, not empty")
	cmd.Flags().StringVar(&o.Issuer, "issuer", "", "iss claim (default $JOBSTATUS_AUTH_ISSUER)")
	cmd.Flags().StringVar(&o.Audience, "audience", "", "aud claim (default $JOBSTATUS_AUTH_AUDIENCE)")
	return cmd
}

func runToken(stdio IO, o tokenOptions) error {
	cfg, err := loadConfig(stdio, bootstrap.ModeTool)
	if err != nil {
		return err
	}
	if o.Issuer == "" {
		o.Issuer = cfg.Auth.Issuer
	}
	if o.Audience == "" {
		o.Audience = cfg.Auth.Audience
	}
	if o.Issuer == "" || o.Audience == "" {
		return usagef("token needs --issuer and --audience (or JOBSTATUS_AUTH_ISSUER and JOBSTATUS_AUTH_AUDIENCE)")
	}
	// What came from the settings: the values serve refuses (the flags
	// were checked by Validate).
	for _, c := range []struct{ key, v string }{{"auth.issuer", o.Issuer}, {"auth.audience", o.Audience}} {
		if !jwtauth.ValidClaimValue(c.v) {
			return fmt.Errorf("configuration: %s %s; got %q", bootstrap.SettingName(c.key), jwtauth.ClaimValueRule, c.v)
		}
	}
	key, err := jwtauth.LoadPrivateKey(o.KeyFile)
	if err != nil {
		return err
	}
	signer, err := jwtauth.NewSigner(key)
	if err != nil {
		return err
	}
	if err := jwtauth.CheckSigningKey(key); err != nil {
		return fmt.Errorf("key %s: %w: the service would refuse the token", o.KeyFile, err)
	}
	if !slices.Contains(cfg.Auth.Algorithms, signer.Alg()) {
		return fmt.Errorf("configuration: %s allows %s, not %s, which key %s signs with: the service would refuse the token",
			bootstrap.SettingName("auth.algorithms"), strings.Join(cfg.Auth.Algorithms, ", "), signer.Alg(), o.KeyFile)
	}
	scopes, _ := jwtauth.ParseScope(o.Scope) // checked by Validate
	tok, err := signer.Mint(jwtauth.TokenParams{Issuer: o.Issuer, Audience: o.Audience, Subject: o.Subject,
		ClientID: o.Client, Scopes: scopes, TTL: o.TTL})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdio.Stdout, tok)
	return err
}
