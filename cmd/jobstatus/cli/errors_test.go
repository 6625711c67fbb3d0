package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/apikey"
	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/cmd/jobstatus/cli"
	"github.com/jobstatus/jobstatus/domain"
)

// jobID is a well-formed job id, for tests of what follows it on the line.
const jobID = "0b6f8d0e-6a4b-4c1e-9d51-1b2f6d1c9a77"

// noDatabase is the line of a command that needs a database run without one.
const noDatabase = "configuration: JOBSTATUS_DATABASE_URL (database.url) is required by this command: the in-memory store lives only inside one process"

// cliResult is what one run of the command line left behind.
type cliResult struct {
	code           int
	stdout, stderr string
}

// execute runs the command line in-process. Its context is cancelled
// already: a command that got past validation and started serving stops
// at once instead of hanging the test.
func execute(t *testing.T, env []string, argv ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	code := cli.Execute(ctx, argv, cli.IO{Stdout: &stdout, Stderr: &stderr, Environ: env})
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// TestUsageErrorsExitTwo: every mistake in the command line is exit 2 with
// one line, classified by its type (cobra's own errors included).
func TestUsageErrorsExitTwo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		argv []string
		want string // the whole line after "jobstatus: "
	}{
		{"UnknownCommand", []string{"frobnicate"}, `unknown command "frobnicate" for "jobstatus"`},
		{"UnknownJobsCommand", []string{"jobs", "frob"}, `unknown command "frob" for "jobstatus jobs"`},
		{"UnknownFlag", []string{"serve", "--bogus"}, "unknown flag: --bogus"},
		{"ExtraArgument", []string{"migrate", "now"}, `unknown command "now" for "jobstatus migrate"`},
		{"MissingID", []string{"jobs", "get"}, "accepts 1 arg(s), received 0"},
		{"TwoIDs", []string{"jobs", "get", "a", "b"}, "accepts 1 arg(s), received 2"},
		{"CreateWithoutClient", []string{"jobs", "create"}, "--client is required"},
		// The eta rule is the domain's, as the write API applies it.
		{"NegativeETA", []string{"jobs", "create", "--client", "a", "--eta", "-5s"}, "invalid eta: " + domain.ETARule},
		{"ETAOverADay", []string{"jobs", "create", "--client", "a", "--eta", "48h"}, "invalid eta: " + domain.ETARule},
		{"ZeroETA", []string{"jobs", "create", "--client", "a", "--eta", "0s"}, "invalid eta: " + domain.ETARule},
		// The idempotency key's rule is the write API's Idempotency-Key rule.
		{"NonASCIIIdempotencyKey", []string{"jobs", "create", "--client", "a", "--idempotency-key", "clé"}, "invalid idempotency_key: " + domain.IdempotencyKeyRule},
		// An empty key (an unset variable) once created a new job each time.
		{"EmptyIdempotencyKey", []string{"jobs", "create", "--client", "a", "--idempotency-key", ""}, "invalid idempotency_key: " + domain.IdempotencyKeyRule},
		{"ControlInIdempotencyKey", []string{"jobs", "create", "--client", "a", "--idempotency-key", "a\tb"}, "invalid idempotency_key: " + domain.IdempotencyKeyRule},
		{"ZeroETAWithoutUnit", []string{"jobs", "create", "--client", "a", "--eta", "0"}, "invalid eta: " + domain.ETARule},
		{"BadETA", []string{"jobs", "create", "--client", "a", "--eta", "soon"}, `--eta "soon": want a duration such as 90s, 15m or 2h`},
		// An empty id (an unset variable) once created a job under a random one.
		{"CreateEmptyID", []string{"jobs", "create", "--client", "a", "--id", ""}, `job id "": want a UUID such as 89678f60-4cdc-4fe3-ae83-e8b3ebd35c59`},
		{"CreateBadID", []string{"jobs", "create", "--client", "a", "--id", "42"}, `job id "42": want a UUID such as 89678f60-4cdc-4fe3-ae83-e8b3ebd35c59`},
		{"CompleteWithoutLink", []string{"jobs", "complete", jobID}, "--link is required: ENTITY=HREF, repeatable"},
		{"MalformedLink", []string{"jobs", "complete", jobID, "--link", "composition"}, `--link "composition": want ENTITY=HREF`},
		// The outcome's rules are the domain's, checked before the settings.
		{"LinkNotAnAbsolutePath", []string{"jobs", "complete", jobID, "--link", "composition=//evil.example/c"}, "invalid links: every href must be an absolute path"},
		{"LinkEntityNotAToken", []string{"jobs", "complete", jobID, "--link", "compo sition=/c"}, "invalid links: every link entity must be a token (letters, digits and !#$%&'*+-.^_`|~)"},
		{"NoCompositionLink", []string{"jobs", "complete", jobID, "--link", "encounter=/patients/p/encounter/e"}, "invalid links: a DONE job needs a composition link"},
		{"FailWithoutCode", []string{"jobs", "fail", jobID, "--message", "m"}, "--code is required: 1 to 999"},
		{"FailNegativeCode", []string{"jobs", "fail", jobID, "--code", "-5", "--message", "m"}, "--code must be 1 to 999, got -5"},
		{"FailCodeAbove999", []string{"jobs", "fail", jobID, "--code", "1000", "--message", "m"}, "--code must be 1 to 999, got 1000"},
		{"CreateClientWithSpace", []string{"jobs", "create", "--client", "bad id!"}, "invalid client: " + domain.ClientIDRule},
		{"CreateClientTooLong", []string{"jobs", "create", "--client", strings.Repeat("c", 256)}, "invalid client: " + domain.ClientIDRule},
		{"FailWithoutMessage", []string{"jobs", "fail", jobID, "--code", "500"}, "--message is required"},
		{"FailMessageNotUTF8", []string{"jobs", "fail", jobID, "--code", "500", "--message", "bad \xff"}, "invalid message: must be valid UTF-8 without NUL bytes"},
		{"FailBadCode", []string{"jobs", "fail", jobID, "--code", "5xx", "--message", "m"}, `--code "5xx": want a whole number`},
		{"FailCodeNotANumber", []string{"jobs", "fail", jobID, "--code", "abc", "--message", "m"}, `--code "abc": want a whole number`},
		// The id is checked before the settings: no database is configured here.
		{"GetMalformedID", []string{"jobs", "get", "not-a-uuid"}, `job id "not-a-uuid": want a UUID such as 89678f60-4cdc-4fe3-ae83-e8b3ebd35c59`},
		{"CompleteMalformedID", []string{"jobs", "complete", "x", "--link", "composition=/c"}, `job id "x": want a UUID such as 89678f60-4cdc-4fe3-ae83-e8b3ebd35c59`},
		{"FailMalformedID", []string{"jobs", "fail", "x", "--code", "500", "--message", "m"}, `job id "x": want a UUID such as 89678f60-4cdc-4fe3-ae83-e8b3ebd35c59`},
		{"PurgeWithoutAge", []string{"jobs", "purge"}, "--older-than is required and must be positive, got 0s"},
		{"PurgeNegativeAge", []string{"jobs", "purge", "--older-than", "-1h"}, "--older-than is required and must be positive, got -1h"},
		{"PurgeUnknownUnit", []string{"jobs", "purge", "--older-than", "90x"}, `--older-than "90x": want whole days such as 90d, or a duration such as 2160h`},
		{"PurgeWeeks", []string{"jobs", "purge", "--older-than", "2w"}, `--older-than "2w": want whole days such as 90d, or a duration such as 2160h`},
		{"PurgeFractionalDays", []string{"jobs", "purge", "--older-than", "1.5d"}, `--older-than "1.5d": want whole days such as 90d, or a duration such as 2160h`},
		{"ReportWithoutFrom", []string{"report", "--to", "2026-11-01"}, "--from is required: YYYY-MM-DD"},
		{"ReportWithoutTo", []string{"report", "--from", "2026-11-01"}, "--to is required: YYYY-MM-DD"},
		{"ReportBadTo", []string{"report", "--from", "2026-11-01", "--to", "tomorrow"}, `--to "tomorrow": want YYYY-MM-DD`},
		{"ReportBadFormat", []string{"report", "--from", "2026-11-01", "--to", "2026-11-02", "--format", "xml"}, `--format "xml": want csv, json or table`},
		// The report's rules are the use case's, checked before the settings.
		{"ReportToBeforeFrom", []string{"report", "--from", "2026-11-02", "--to", "2026-11-01"}, "invalid to: must not be before from"},
		{"ReportBadClient", []string{"report", "--from", "2026-11-01", "--to", "2026-11-02", "--client", "bad id"}, "invalid client: " + domain.ClientIDRule},
		// An empty --client (an unset variable) once reported every client.
		{"ReportEmptyClient", []string{"report", "--from", "2026-11-01", "--to", "2026-11-02", "--client", ""}, "invalid client: " + domain.ClientIDRule},
		{"TokenWithoutKey", []string{"token", "--client", "a"}, "--key is required"},
		{"TokenWithoutClient", []string{"token", "--key", "k.pem"}, "--client is required"},
		// A token for an id no client can have was minted, to be refused by the service.
		{"TokenBadClient", []string{"token", "--key", "k.pem", "--client", "bad id"}, "invalid client: " + domain.ClientIDRule},
		// A non-positive lifetime once minted a one-hour token silently.
		// The verifier's scope rule: a scope it reads as none once minted a
		// token every request refused (403).
		{"TokenEmptyScope", []string{"token", "--key", "k.pem", "--client", "a", "--scope", ""}, "invalid scope: " + jwtauth.ScopeRule},
		{"TokenScopeDoubleSpace", []string{"token", "--key", "k.pem", "--client", "a", "--scope", "composition:read  composition_job:write"}, "invalid scope: " + jwtauth.ScopeRule},
		{"TokenScopeLeadingSpace", []string{"token", "--key", "k.pem", "--client", "a", "--scope", " composition:read"}, "invalid scope: " + jwtauth.ScopeRule},
		{"TokenScopeTab", []string{"token", "--key", "k.pem", "--client", "a", "--scope", "composition:read\tcomposition_job:write"}, "invalid scope: " + jwtauth.ScopeRule},
		{"TokenScopeQuote", []string{"token", "--key", "k.pem", "--client", "a", "--scope", `composition:"read"`}, "invalid scope: " + jwtauth.ScopeRule},
		{"TokenScopeNotASCII", []string{"token", "--key", "k.pem", "--client", "a", "--scope", "composition:lectureé"}, "invalid scope: " + jwtauth.ScopeRule},
		// A token without "sub" is refused by every verifier.
		{"TokenEmptySubject", []string{"token", "--key", "k.pem", "--client", "a", "--subject", ""}, `--subject must not be empty: the service refuses a token without "sub"`},
		// Padded values match no issuer or audience a service accepts.
		{"TokenPaddedIssuer", []string{"token", "--key", "k.pem", "--client", "a", "--issuer", " https://auth.example"}, "invalid issuer: " + jwtauth.ClaimValueRule},
		{"TokenBlankAudience", []string{"token", "--key", "k.pem", "--client", "a", "--audience", " "}, "invalid audience: " + jwtauth.ClaimValueRule},
		{"TokenNegativeTTL", []string{"token", "--key", "k.pem", "--client", "a", "--ttl", "-1h"}, "--ttl must be positive, got -1h"},
		{"TokenZeroTTL", []string{"token", "--key", "k.pem", "--client", "a", "--ttl", "0"}, "--ttl must be positive, got 0s"},
		{"TokenNegativeNanosecond", []string{"token", "--key", "k.pem", "--client", "a", "--ttl=-1ns"}, "--ttl must be positive, got -1ns"},
		{"TokenGarbageTTL", []string{"token", "--key", "k.pem", "--client", "a", "--ttl", "soon"}, `--ttl "soon": want a duration such as 90s, 15m or 2h`},
		{"TokenUnitlessTTL", []string{"token", "--key", "k.pem", "--client", "a", "--ttl", "3600"}, `--ttl "3600": want a duration such as 90s, 15m or 2h`},
		{"HealthcheckBadWait", []string{"healthcheck", "--wait", "forever"}, `--wait "forever": want a duration such as 90s, 15m or 2h`},
		{"ServeBadBool", []string{"serve", "--dev=maybe"}, `--dev "maybe": want true or false`},
		{"TokenWithoutIssuer", []string{"token", "--key", "k.pem", "--client", "a"}, "token needs --issuer and --audience (or JOBSTATUS_AUTH_ISSUER and JOBSTATUS_AUTH_AUDIENCE)"},
		{"KeygenWithoutKeyOut", []string{"keygen", "--jwks-out", "j.json"}, "--key-out is required"},
		{"KeygenWithoutJWKSOut", []string{"keygen", "--key-out", "k.pem"}, "--jwks-out is required"},
		// The JWKS once replaced the private key, and keygen exited 0.
		{"KeygenSameFile", []string{"keygen", "--key-out", "k.pem", "--jwks-out", "./k.pem"}, `--key-out and --jwks-out must name different files, got "k.pem" and "./k.pem"`},
		{"KeygenSymmetric", []string{"keygen", "--key-out", "k.pem", "--jwks-out", "j.json", "--alg", "HS256"}, `--alg "HS256": want ES256, RS256 or EdDSA`},
		{"ServeDevMigrate", []string{"serve", "--dev", "--migrate"}, "--migrate applies to a database; --dev serves from memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := execute(t, nil, tt.argv...)
			require.Equal(t, 2, r.code, "stderr: %s", r.stderr)
			require.Equal(t, "jobstatus: "+tt.want+"\n", r.stderr)
			require.Empty(t, r.stdout)
		})
	}
}

// TestConfigurationErrorsExitOne: a bad setting is refused before anything
// starts, in one line per problem naming the variable and the key, exit 1
// (once max_idle_conns=32 hung serve 15 s and -3 panicked).
func TestConfigurationErrorsExitOne(t *testing.T) {
	t.Parallel()
	db := "JOBSTATUS_DATABASE_URL=postgres://u:p@127.0.0.1:1/db?sslmode=disable"
	id := "0b6f8d0e-6a4b-4c1e-9d51-1b2f6d1c9a77"
	tests := []struct {
		name string
		env  []string
		argv []string
		want []string // lines after "jobstatus: "
	}{
		{"MoreIdleThanOpenServe", []string{"JOBSTATUS_DATABASE_MAX_IDLE_CONNS=32"}, []string{"serve", "--dev"},
			[]string{"configuration: JOBSTATUS_DATABASE_MAX_IDLE_CONNS (database.max_idle_conns) must not exceed JOBSTATUS_DATABASE_MAX_OPEN_CONNS (database.max_open_conns) = 16; got 32"}},
		{"MoreIdleThanOpenJobs", []string{db, "JOBSTATUS_DATABASE_MAX_IDLE_CONNS=32"}, []string{"jobs", "get", id},
			[]string{"configuration: JOBSTATUS_DATABASE_MAX_IDLE_CONNS (database.max_idle_conns) must not exceed JOBSTATUS_DATABASE_MAX_OPEN_CONNS (database.max_open_conns) = 16; got 32"}},
		{"NegativeIdle", []string{db, "JOBSTATUS_DATABASE_MAX_IDLE_CONNS=-3"}, []string{"serve", "--dev"},
			[]string{"configuration: JOBSTATUS_DATABASE_MAX_IDLE_CONNS (database.max_idle_conns) must not be negative; got -3"}},
		{"NegativeIdleMigrate", []string{db, "JOBSTATUS_DATABASE_MAX_IDLE_CONNS=-3"}, []string{"migrate"},
			[]string{"configuration: JOBSTATUS_DATABASE_MAX_IDLE_CONNS (database.max_idle_conns) must not be negative; got -3"}},
		{"SeveralAtOnce", []string{"JOBSTATUS_AUTH_LEEWAY=-1s", "JOBSTATUS_ETA_MIN_SAMPLES=-1", "JOBSTATUS_DATABASE_CONN_MAX_LIFETIME=-5m"}, []string{"serve", "--dev"},
			[]string{
				"configuration: JOBSTATUS_DATABASE_CONN_MAX_LIFETIME (database.conn_max_lifetime) must not be negative; got -5m",
				"configuration: JOBSTATUS_AUTH_LEEWAY (auth.leeway) must not be negative; got -1s",
				"configuration: JOBSTATUS_ETA_MIN_SAMPLES (eta.min_samples) must not be negative; got -1",
			}},
		{"TokenValidatesToo", []string{"JOBSTATUS_AUTH_JWKS_REFRESH=-1m"}, []string{"token", "--key", "k.pem", "--client", "a"},
			[]string{"configuration: JOBSTATUS_AUTH_JWKS_REFRESH (auth.jwks_refresh) must not be negative; got -1m"}},
		// The issuer and audience from the settings follow serve's rule.
		{"TokenPaddedIssuerSetting", []string{"JOBSTATUS_AUTH_ISSUER=https://auth.example ", "JOBSTATUS_AUTH_AUDIENCE=jobstatus"},
			[]string{"token", "--key", "k.pem", "--client", "a"},
			[]string{`configuration: JOBSTATUS_AUTH_ISSUER (auth.issuer) must not be blank or start or end with spaces; got "https://auth.example "`}},
		{"Unparseable", []string{"JOBSTATUS_SWEEPER_BATCH=lots"}, []string{"serve", "--dev"},
			[]string{`configuration: JOBSTATUS_SWEEPER_BATCH (sweeper.batch): "lots" is not a whole number`}},
		// A missing database is a missing setting: exit 1, like the others,
		// and only once what was typed is right (--older-than 90d is).
		{"JobsWithoutDatabase", nil, []string{"jobs", "get", id}, []string{noDatabase}},
		{"PurgeInDaysWithoutDatabase", nil, []string{"jobs", "purge", "--older-than", "90d"}, []string{noDatabase}},
		{"ReportWithoutDatabase", nil, []string{"report", "--from", "2026-11-01", "--to", "2026-11-02"}, []string{noDatabase}},
		{"MigrateWithoutDatabase", nil, []string{"migrate"}, []string{noDatabase}},
		{"MigrateStatusWithoutDatabase", nil, []string{"migrate", "status"}, []string{noDatabase}},
		{"NoAuth", nil, []string{"serve"},
			[]string{"configuration: no auth configuration: set JOBSTATUS_AUTH_JWKS_FILE or JOBSTATUS_AUTH_JWKS_URL, JOBSTATUS_AUTH_ISSUER, JOBSTATUS_AUTH_AUDIENCE and JOBSTATUS_API_KEYS_FILE, or run with --dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := execute(t, tt.env, tt.argv...)
			require.Equal(t, 1, r.code, "stderr: %s", r.stderr)
			want := ""
			for _, l := range tt.want {
				want += "jobstatus: " + l + "\n"
			}
			require.Equal(t, want, r.stderr)
			require.Empty(t, r.stdout)
		})
	}
}

// TestBadFilesAreOneLine: a bad api-keys or JWKS file is one line naming
// the file (and the entry), exit 1 — not kilobytes of fx plumbing.
func TestBadFilesAreOneLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	jwks := filepath.Join(dir, "jwks.json")
	r := execute(t, nil, "keygen", "--key-out", filepath.Join(dir, "key.pem"), "--jwks-out", jwks)
	require.Equal(t, 0, r.code, r.stderr)
	keys := filepath.Join(dir, "clients.yaml")
	require.NoError(t, os.WriteFile(keys, fmt.Appendf(nil, "clients:\n  - id: mis-alpha\n    key_sha256: %s\n  - id: mis-beta\n    key_sha256: abc\n",
		apikey.Digest("alpha")), 0o600))
	badJWKS := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(badJWKS, []byte("{not json"), 0o600))
	env := func(jwksFile, keysFile string) []string {
		return []string{"JOBSTATUS_AUTH_ISSUER=https://issuer.test", "JOBSTATUS_AUTH_AUDIENCE=jobstatus",
			"JOBSTATUS_HTTP_ADDR=127.0.0.1:0", "JOBSTATUS_ADMIN_ADDR=127.0.0.1:0",
			"JOBSTATUS_AUTH_JWKS_FILE=" + jwksFile, "JOBSTATUS_API_KEYS_FILE=" + keysFile}
	}
	tests := []struct {
		name     string
		env      []string
		mentions []string
	}{
		{"BadAPIKeyEntry", env(jwks, keys), []string{"jobstatus: JOBSTATUS_API_KEYS_FILE (api_keys_file): api keys file " + keys +
			`: clients[1] (id "mis-beta"): key_sha256 must be 64 hex digits`}},
		// The setting is named first, then the file's own error, once.
		{"MissingAPIKeysFile", env(jwks, filepath.Join(dir, "none.yaml")),
			[]string{"jobstatus: JOBSTATUS_API_KEYS_FILE (api_keys_file): open " + filepath.Join(dir, "none.yaml") + ": no such file or directory\n"}},
		{"BadJWKSFile", env(badJWKS, keys), []string{"jobstatus: JOBSTATUS_AUTH_JWKS_FILE (auth.jwks_file): ", badJWKS}},
		{"MissingJWKSFile", env(filepath.Join(dir, "none.json"), keys),
			[]string{"jobstatus: JOBSTATUS_AUTH_JWKS_FILE (auth.jwks_file): open " + filepath.Join(dir, "none.json") + ": no such file or directory\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := execute(t, tt.env, "serve")
			require.Equal(t, 1, r.code, "stderr: %s", r.stderr)
			require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %s", r.stderr)
			require.True(t, strings.HasPrefix(r.stderr, "jobstatus: "), r.stderr)
			for _, m := range tt.mentions {
				require.Contains(t, r.stderr, m)
			}
			require.NotContains(t, r.stderr, "could not build arguments")
		})
	}
}

// TestDatabaseDownIsOneLine: a one-shot command with the database down
// prints its error, one line naming the cause, and no log line before it
// (once a JSON "database not reachable yet" warning came first).
func TestDatabaseDownIsOneLine(t *testing.T) {
	t.Parallel()
	env := []string{"JOBSTATUS_DATABASE_URL=postgres://u:secretpass@127.0.0.1:1/db?sslmode=disable"}
	id := "0b6f8d0e-6a4b-4c1e-9d51-1b2f6d1c9a77"
	refused := "dial tcp 127.0.0.1:1: connect: connection refused\n"
	tests := []struct {
		name string
		argv []string
		want string // the whole stderr after "jobstatus: "
	}{
		{"Get", []string{"jobs", "get", id}, "database unavailable: get job: store unavailable: " + refused},
		{"Create", []string{"jobs", "create", "--client", "mis-alpha", "--eta", "1m"}, "database unavailable: create job: store unavailable: " + refused},
		{"Fail", []string{"jobs", "fail", id, "--code", "500", "--message", "m"}, "database unavailable: finish job: store unavailable: " + refused},
		{"Report", []string{"report", "--from", "2026-11-01", "--to", "2026-11-02"}, "database unavailable: daily counts: store unavailable: " + refused},
		{"MigrateStatus", []string{"migrate", "status"}, "read schema version: " + refused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := cli.Execute(context.Background(), tt.argv, cli.IO{Stdout: &stdout, Stderr: &stderr, Environ: env})
			require.Equal(t, 1, code, "stderr: %s", stderr.String())
			require.Equal(t, "jobstatus: "+tt.want, stderr.String())
			require.Empty(t, stdout.String())
			require.NotContains(t, stderr.String(), "secretpass")
		})
	}
}

// TestMissingSubcommandIsAUsageError: a group without its command prints
// its help on stderr, names the commands it has and exits 2; --help still
// prints on stdout, exit 0.
func TestMissingSubcommandIsAUsageError(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct {
		argv []string
		want string
	}{
		"Root": {nil, "jobstatus needs a command: "},
		"Jobs": {[]string{"jobs"}, "jobstatus jobs needs a command: complete, create, fail, get, purge"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := execute(t, nil, tt.argv...)
			require.Equal(t, 2, r.code, r.stderr)
			require.Empty(t, r.stdout)
			require.Contains(t, r.stderr, "Usage:\n")
			require.Contains(t, r.stderr, "\njobstatus: "+tt.want)
			require.True(t, strings.HasSuffix(r.stderr, "\n"), r.stderr)
		})
	}
}

func TestHelpHasAnExampleForEveryCommand(t *testing.T) {
	t.Parallel()
	for _, argv := range [][]string{{"serve"}, {"migrate"}, {"jobs"}, {"jobs", "create"}, {"jobs", "complete"}, {"jobs", "fail"},
		{"jobs", "get"}, {"jobs", "purge"}, {"report"}, {"token"}, {"keygen"}, {"wait"}, {}} {
		t.Run(strings.Join(append([]string{"jobstatus"}, argv...), " "), func(t *testing.T) {
			t.Parallel()
			r := execute(t, nil, append(argv, "--help")...)
			require.Equal(t, 0, r.code, r.stderr)
			require.Regexp(t, `Example:\n  (JOBSTATUS_\S+ )?jobstatus `, r.stdout)
		})
	}
}

// TestHelpListsEveryExitStatus: the root command's help lists the exit
// statuses from the one table that decides them.
func TestHelpListsEveryExitStatus(t *testing.T) {
	t.Parallel()
	r := execute(t, nil, "--help")
	require.Equal(t, 0, r.code, r.stderr)
	for _, line := range []string{"  0  success\n", "  1  failure: ", "  2  bad command line or input", "  3  wait only: "} {
		require.Contains(t, r.stdout, line)
	}
}
