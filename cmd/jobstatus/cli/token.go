package cli

import (
	"context"
	"fmt"
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

// Validate refuses missing flags and a lifetime that is not positive: a
// token that expires at once, or a silently substituted one, helps nobody.
func (o tokenOptions) Validate() error {
	switch {
	case o.KeyFile == "":
		return usagef("--key is required")
	case o.Client == "":
		return usagef("--client is required")
	case o.TTL <= 0:
		return usagef("--ttl must be positive, got %s", bootstrap.FormatDuration(o.TTL))
	}
	// The one client-id rule: a token for an id no client can have would
	// only be refused later, by the service.
	return domain.CheckClientID("client", o.Client)
}

func newTokenCmd(stdio IO) *cobra.Command {
	var o tokenOptions
	cmd := &cobra.Command{
		Use:   "token --key FILE --client ID [--scope S] [--ttl D]",
		Short: "Mint an access token (development and tests)",
		Long: `Mint an RFC 9068 access token signed with a key from keygen. Issuer and
audience come from --issuer/--audience or JOBSTATUS_AUTH_ISSUER and
JOBSTATUS_AUTH_AUDIENCE.

Example:
  jobstatus token --key key.pem --client mis-alpha --ttl 15m`,
		Args: args(cobra.NoArgs),
		RunE: runE(&o, nil, func(context.Context) error { return runToken(stdio, o) }),
	}
	cmd.Flags().StringVar(&o.KeyFile, "key", "", "PEM private key (required)")
	cmd.Flags().StringVar(&o.Client, "client", "", "client_id claim (required)")
	cmd.Flags().StringVar(&o.Scope, "scope", domain.ScopeCompositionRead, "space-separated scopes")
	cmd.Flags().DurationVar(&o.TTL, "ttl", time.Hour, "lifetime, positive")
	cmd.Flags().StringVar(&o.Subject, "subject", "dev-user", "sub claim")
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
	key, err := jwtauth.LoadPrivateKey(o.KeyFile)
	if err != nil {
		return err
	}
	signer, err := jwtauth.NewSigner(key)
	if err != nil {
		return err
	}
	tok, err := signer.Mint(jwtauth.TokenParams{Issuer: o.Issuer, Audience: o.Audience, Subject: o.Subject,
		ClientID: o.Client, Scopes: strings.Fields(o.Scope), TTL: o.TTL})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdio.Stdout, tok)
	return err
}
