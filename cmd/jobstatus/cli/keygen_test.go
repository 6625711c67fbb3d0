package cli_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/cmd/jobstatus/cli"
)

// TestTokenAndKeygenCommands: keygen makes a key that token signs with.
func TestTokenAndKeygenCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := cli.Execute(context.Background(), []string{"keygen", "--key-out", dir + "/k.pem", "--jwks-out", dir + "/jwks.json"},
		cli.IO{Stdout: &out, Stderr: &errOut})
	require.Equal(t, 0, code, errOut.String())

	out.Reset()
	code = cli.Execute(context.Background(), []string{"token", "--key", dir + "/k.pem", "--client", "mis-alpha", "--ttl", "5m"},
		cli.IO{Stdout: &out, Stderr: &errOut, Environ: []string{"JOBSTATUS_AUTH_ISSUER=i", "JOBSTATUS_AUTH_AUDIENCE=a"}})
	require.Equal(t, 0, code, errOut.String())
	token := strings.TrimSpace(out.String())
	require.Len(t, strings.Split(token, "."), 3)

	errOut.Reset()
	code = cli.Execute(context.Background(), []string{"token", "--key", dir + "/k.pem"}, cli.IO{Stdout: io.Discard, Stderr: &errOut})
	require.Equal(t, 2, code, "a missing flag is a usage error")
	require.Contains(t, errOut.String(), "client")

	code = cli.Execute(context.Background(), []string{"token", "--key", dir + "/k.pem", "--client", "c"}, cli.IO{Stdout: io.Discard, Stderr: &errOut})
	require.Equal(t, 2, code, "issuer and audience are required")
}
