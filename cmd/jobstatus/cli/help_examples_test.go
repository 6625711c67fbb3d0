package cli_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/cmd/jobstatus/cli"
)

// TestHelpExamplesWorkAgainstALocalPostgreSQL: every PostgreSQL URL in the
// commands' help parses and says sslmode=disable. lib/pq asks for TLS by
// default, which a stock local PostgreSQL refuses ("pq: SSL is not enabled
// on the server"), so an example without it fails as pasted.
func TestHelpExamplesWorkAgainstALocalPostgreSQL(t *testing.T) {
	t.Parallel()
	dsn := regexp.MustCompile(`postgres(?:ql)?://[^\s'"]+`)
	found := 0
	for _, argv := range [][]string{{"serve"}, {"migrate"}, {"migrate", "status"}, {"jobs"}, {"jobs", "create"},
		{"jobs", "purge"}, {"report"}, {"healthcheck"}, {"wait"}, {"watch"}, {"token"}, {"keygen"}} {
		t.Run(strings.Join(argv, " "), func(t *testing.T) {
			var out strings.Builder
			code := cli.Execute(context.Background(), append(argv, "--help"), cli.IO{Stdout: &out, Stderr: &out})
			require.Equal(t, 0, code, out.String())
			for _, u := range dsn.FindAllString(out.String(), -1) {
				parsed, err := url.Parse(u)
				require.NoError(t, err, u)
				require.Equal(t, "disable", parsed.Query().Get("sslmode"), "%s --help: %s", strings.Join(argv, " "), u)
				found++
			}
		})
	}
	require.GreaterOrEqual(t, found, 3, "the examples of serve, migrate and migrate status")
}
