package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/jobstatus/jobstatus/adapters/jwtauth"
)

// keygenAlgorithms are the key types keygen makes.
var keygenAlgorithms = []string{"ES256", "RS256", "EdDSA"}

// keygenOptions are the flags of `jobstatus keygen`.
type keygenOptions struct {
	Alg     string
	KeyOut  string
	JWKSOut string
}

// Validate refuses missing paths and an algorithm keygen cannot make.
func (o keygenOptions) Validate() error {
	switch {
	case o.KeyOut == "":
		return usagef("--key-out is required")
	case o.JWKSOut == "":
		return usagef("--jwks-out is required")
	case !slices.Contains(keygenAlgorithms, o.Alg):
		return usagef("--alg %q: want ES256, RS256 or EdDSA", o.Alg)
	case sameFile(o.KeyOut, o.JWKSOut):
		// The JWKS, written second, would replace the private key while
		// keygen reported both written.
		return usagef("--key-out and --jwks-out must name different files, got %q and %q", o.KeyOut, o.JWKSOut)
	}
	return nil
}

// sameFile reports whether a and b name one file: the same path, or, when
// both exist, one file behind two names (a link).
func sameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	ia, errA := os.Stat(a)
	ib, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(ia, ib)
}

func newKeygenCmd(stdio IO) *cobra.Command {
	var o keygenOptions
	cmd := &cobra.Command{
		Use:   "keygen --key-out FILE --jwks-out FILE [--alg ES256|RS256|EdDSA]",
		Short: "Make a signing key and its public JWKS (development and tests)",
		Long: `Make a private signing key (PEM, mode 0600) and the JWK Set that verifies
it, for JOBSTATUS_AUTH_JWKS_FILE; token signs with the key. Both files are
new: keygen refuses a path that exists (exit 2) rather than replace a key,
or a key set, that may be in use.

Example:
  jobstatus keygen --key-out key.pem --jwks-out jwks.json --alg EdDSA`,
		Args: args(cobra.NoArgs),
		RunE: runE(&o, nil, func(context.Context) error { return runKeygen(stdio, o) }),
	}
	cmd.Flags().StringVar(&o.Alg, "alg", "ES256", "ES256, RS256 or EdDSA")
	cmd.Flags().StringVar(&o.KeyOut, "key-out", "", "new file for the private key (PEM, mode 0600; required)")
	cmd.Flags().StringVar(&o.JWKSOut, "jwks-out", "", "new file for the public JWK Set (required)")
	return cmd
}

func runKeygen(stdio IO, o keygenOptions) (err error) {
	// Both files are created before any key is made, and removed again
	// if keygen fails: it leaves both or neither.
	keyFile, err := createNew("key-out", o.KeyOut, 0o600)
	if err != nil {
		return err
	}
	jwksFile, err := createNew("jwks-out", o.JWKSOut, 0o644)
	if err != nil {
		discard(keyFile)
		return err
	}
	defer func() {
		if err != nil {
			discard(keyFile)
			discard(jwksFile)
		}
	}()
	key, err := jwtauth.GenerateKey(o.Alg)
	if err != nil {
		return err
	}
	signer, err := jwtauth.NewSigner(key)
	if err != nil {
		return err
	}
	pemBytes, err := jwtauth.EncodePrivateKey(key)
	if err != nil {
		return err
	}
	jwks, err := signer.JWKS()
	if err != nil {
		return err
	}
	if err := writeClose(keyFile, pemBytes); err != nil {
		return fmt.Errorf("--key-out: %w", err)
	}
	if err := writeClose(jwksFile, append(jwks, '\n')); err != nil {
		return fmt.Errorf("--jwks-out: %w", err)
	}
	return printJSON(stdio.Stdout, keygenView{KID: signer.KID(), Alg: signer.Alg(), Key: o.KeyOut, JWKS: o.JWKSOut})
}

// createNew creates path for flag's output with mode perm. A path that
// exists, a dangling link included, is refused as input (exit 2): a key
// file replaced in place would lose a key in use, and a JWK Set replaced
// would lock out every token of the key it held.
func createNew(flag, path string, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil, usagef("--%s %q exists already: keygen never replaces a file; remove it or name a new one", flag, path)
	case err != nil:
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	return f, nil
}

// writeClose writes b to f and closes it.
func writeClose(f *os.File, b []byte) error {
	_, err := f.Write(b)
	return errors.Join(err, f.Close())
}

// discard closes and removes a file createNew made.
func discard(f *os.File) {
	_ = f.Close()
	_ = os.Remove(f.Name())
}
