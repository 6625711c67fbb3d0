package cli_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/cmd/jobstatus/cli"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// waitBundle is a real public API in this process with jobs of ClientA.
type waitBundle struct {
	url     string
	kit     *testkit.Kit
	ops     *app.Operator
	token   string
	pending domain.Job
	done    domain.Job
	failed  domain.Job
	other   domain.Job        // ClientB's
	held    chan struct{}     // a request asking Prefer: wait arrived
	secrets []string          // must never be printed
	files   map[string]string // credential files by name
}

const waitHref = "/patients/p1/encounter/e1/composition/c1"

func setupWait(t *testing.T) *waitBundle {
	t.Helper()
	kit := testkit.New(t)
	changes, err := app.NewChanges(100)
	require.NoError(t, err)
	a := testkit.NewUseCases(t, memory.NewJobs(), kit.Verifier(t), kit.Clients(t), nil, changes)
	b := &waitBundle{kit: kit, ops: a.Operator, token: kit.Token(testkit.ClientA), held: make(chan struct{}, 100)}
	public := httpapi.NewHandler(a.Public, zap.NewNop(), httpapi.DefaultHandlerConfig(), httpapi.NopObserver{})
	b.url = testkit.StartServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Prefer"), "wait=") {
			select {
			case b.held <- struct{}{}:
			default:
			}
		}
		public.ServeHTTP(w, r)
	}), zap.NewNop())

	ctx := context.Background()
	create := func(client string) domain.Job {
		j, err := a.CreateJob.Handle(ctx, app.CreateJob{ClientID: client, ETA: time.Minute})
		require.NoError(t, err)
		return j
	}
	b.pending, b.other = create(testkit.ClientA), create(testkit.ClientB)
	b.done, err = a.CompleteJob.Handle(ctx, app.CompleteJob{ID: create(testkit.ClientA).ID.String(),
		Links: []domain.Link{{Entity: domain.CompositionEntity, Href: waitHref}}})
	require.NoError(t, err)
	b.failed, err = a.FailJob.Handle(ctx, app.FailJob{ID: create(testkit.ClientA).ID.String(), Code: 422, Message: "Composition signature is not valid"})
	require.NoError(t, err)

	dir := t.TempDir()
	b.files = map[string]string{}
	for name, content := range map[string]string{"token": b.token + "\n", "key": testkit.KeyA + "\n", "empty": " \n", "spaced": "two words\n"} {
		b.files[name] = filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(b.files[name], []byte(content), 0o600))
	}
	b.secrets = []string{b.token, testkit.KeyA}
	return b
}

// wait runs `jobstatus wait` through Execute.
func (b *waitBundle) wait(ctx context.Context, env []string, argv ...string) cliResult {
	var stdout, stderr strings.Builder
	code := cli.Execute(ctx, append([]string{"wait"}, argv...), cli.IO{Stdout: &stdout, Stderr: &stderr, Environ: env})
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// waitedJob is what wait prints.
type waitedJob struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Links  []struct {
		Entity string `json:"entity"`
		Href   string `json:"href"`
	} `json:"links"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeWaited(t *testing.T, r cliResult) waitedJob {
	t.Helper()
	var j waitedJob
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j), "stdout: %q stderr: %q", r.stdout, r.stderr)
	return j
}

// TestWaitReturnsWhenTheJobFinishes: a job completed while wait is held by
// the server is printed as DONE with its links, exit 0.
func TestWaitReturnsWhenTheJobFinishes(t *testing.T) {
	t.Parallel()
	b := setupWait(t)
	id := b.pending.ID.String()
	done := make(chan cliResult, 1)
	go func() {
		done <- b.wait(context.Background(), []string{"JOBSTATUS_TOKEN=" + b.token, "JOBSTATUS_API_KEY=" + testkit.KeyA},
			id, "--url", b.url, "--timeout", "1m")
	}()
	<-b.held
	_, err := b.ops.CompleteJob.Handle(context.Background(), app.CompleteJob{ID: id,
		Links: []domain.Link{{Entity: domain.CompositionEntity, Href: waitHref}}})
	require.NoError(t, err)
	r := <-done
	require.Equal(t, 0, r.code, r.stderr)
	j := decodeWaited(t, r)
	require.Equal(t, id, j.ID)
	require.Equal(t, "DONE", j.Status)
	require.Len(t, j.Links, 1)
	require.Equal(t, waitHref, j.Links[0].Href)
	require.Empty(t, r.stderr)
}

// TestWaitOutcomes: each way wait can end, with its exit status, and the
// credentials never printed, whatever the source.
func TestWaitOutcomes(t *testing.T) {
	t.Parallel()
	b := setupWait(t)
	url := []string{"--url", b.url}
	flags := append(slices.Clone(url), "--token", b.token, "--api-key", testkit.KeyA)
	files := append(slices.Clone(url), "--token-file", b.files["token"], "--api-key-file", b.files["key"])
	envCreds := []string{"JOBSTATUS_TOKEN=" + b.token, "JOBSTATUS_API_KEY=" + testkit.KeyA}
	// silent accepts connections and never answers: a service that is
	// not there in time, without racing other tests for a free port.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = silent.Close() })
	tests := []struct {
		name       string
		env        []string
		argv       []string
		wantCode   int
		wantStatus string // printed job's status; empty: nothing on stdout
		wantErr    string // stderr after "jobstatus: "; empty: nothing
	}{
		{"DoneFromFlags", nil, append([]string{b.done.ID.String()}, flags...), 0, "DONE", ""},
		{"DoneFromFiles", nil, append([]string{b.done.ID.String()}, files...), 0, "DONE", ""},
		{"DoneFromEnvironment", envCreds, append([]string{b.done.ID.String()}, url...), 0, "DONE", ""},
		{"FlagsWinOverEnvironment", []string{"JOBSTATUS_TOKEN=wrong", "JOBSTATUS_API_KEY=wrong"}, append([]string{b.done.ID.String()}, flags...), 0, "DONE", ""},
		{"UpperCaseID", envCreds, append([]string{strings.ToUpper(b.done.ID.String())}, url...), 0, "DONE", ""},
		{"Failed", nil, append([]string{b.failed.ID.String()}, files...), 1, "FAILED",
			"job " + b.failed.ID.String() + " FAILED: 422 Composition signature is not valid"},
		{"TimedOut", envCreds, append([]string{b.pending.ID.String(), "--timeout", "50ms"}, url...), 3, "",
			"no final answer for job " + b.pending.ID.String() + " within 50ms"},
		// A service that does not answer is retried like a 503 until the timeout.
		// A credential file that never ends is refused before it fills memory.
		{"EndlessAPIKeyFile", nil, append([]string{b.done.ID.String(), "--token-file", b.files["token"], "--api-key-file", "/dev/zero"}, url...), 2, "",
			"--api-key-file /dev/zero is larger than 64 KiB: not a credential"},
		{"NoService", envCreds, []string{b.done.ID.String(), "--timeout", "50ms", "--url", "http://" + silent.Addr().String()}, 3, "",
			"no final answer for job " + b.done.ID.String() + " within 50ms"},
		{"OtherClientsJob", envCreds, append([]string{b.other.ID.String()}, url...), 1, "",
			"job " + b.other.ID.String() + ": the service answered 404 not_found: Task not found"},
		{"WrongAPIKey", []string{"JOBSTATUS_TOKEN=" + b.token, "JOBSTATUS_API_KEY=" + testkit.KeyB}, append([]string{b.done.ID.String()}, url...), 1, "",
			"job " + b.done.ID.String() + ": the service answered 401 access_denied: Invalid access token"},
		{"ReadScopeMissing", []string{"JOBSTATUS_TOKEN=" + b.writeToken(t), "JOBSTATUS_API_KEY=" + testkit.KeyA}, append([]string{b.done.ID.String()}, url...), 1, "",
			"job " + b.done.ID.String() + ": the service answered 403 forbidden: Your scope does not allow to access this resource. Missing allowances: composition:read"},

		{"NoID", envCreds, url, 2, "", "accepts 1 arg(s), received 0"},
		{"MalformedID", envCreds, append([]string{"{" + b.done.ID.String() + "}"}, url...), 2, "",
			`job id "{` + b.done.ID.String() + `}": want a UUID such as 89678f60-4cdc-4fe3-ae83-e8b3ebd35c59`},
		{"NoURL", envCreds, []string{b.done.ID.String()}, 2, "", "--url is required: the public API, e.g. https://jobstatus.example"},
		{"NotHTTP", envCreds, []string{b.done.ID.String(), "--url", "ftp://127.0.0.1"}, 2, "",
			"--url must be an http or https URL without credentials or query, e.g. https://jobstatus.example"},
		{"PasswordInURLNotEchoed", envCreds, []string{b.done.ID.String(), "--url", strings.Replace(b.url, "://", "://u:"+testkit.KeyA+"@", 1)}, 2, "",
			"--url must be an http or https URL without credentials or query, e.g. https://jobstatus.example"},
		{"NegativeTimeout", envCreds, append([]string{b.done.ID.String(), "--timeout", "-1s"}, url...), 2, "", "--timeout must not be negative, got -1s"},
		{"TokenTwice", nil, append([]string{b.done.ID.String(), "--token-file", b.files["token"]}, flags...), 2, "", "give the token once: --token or --token-file"},
		{"APIKeyTwice", nil, append([]string{b.done.ID.String(), "--api-key-file", b.files["key"]}, flags...), 2, "", "give the api-key once: --api-key or --api-key-file"},
		{"NoToken", []string{"JOBSTATUS_API_KEY=" + testkit.KeyA}, append([]string{b.done.ID.String()}, url...), 2, "",
			"the token is required: --token-file FILE, --token or JOBSTATUS_TOKEN"},
		{"NoAPIKey", []string{"JOBSTATUS_TOKEN=" + b.token}, append([]string{b.done.ID.String()}, url...), 2, "",
			"the api-key is required: --api-key-file FILE, --api-key or JOBSTATUS_API_KEY"},
		{"EmptyTokenFile", []string{"JOBSTATUS_API_KEY=" + testkit.KeyA}, append([]string{b.done.ID.String(), "--token-file", b.files["empty"]}, url...), 2, "",
			"--token-file " + b.files["empty"] + " is empty"},
		{"MissingTokenFile", []string{"JOBSTATUS_API_KEY=" + testkit.KeyA}, append([]string{b.done.ID.String(), "--token-file", b.files["token"] + ".none"}, url...), 2, "",
			"--token-file: open " + b.files["token"] + ".none: no such file or directory"},
		{"SpacedAPIKeyNotEchoed", []string{"JOBSTATUS_TOKEN=" + b.token}, append([]string{b.done.ID.String(), "--api-key-file", b.files["spaced"]}, url...), 2, "",
			"the api-key must be one line of printable ASCII without spaces"},
	}
	secrets := append(slices.Clone(b.secrets), "two words")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := b.wait(context.Background(), tt.env, tt.argv...)
			require.Equal(t, tt.wantCode, r.code, "stderr: %s", r.stderr)
			if tt.wantStatus == "" {
				require.Empty(t, r.stdout)
			} else {
				require.Equal(t, tt.wantStatus, decodeWaited(t, r).Status)
			}
			want := ""
			if tt.wantErr != "" {
				want = "jobstatus: " + tt.wantErr + "\n"
			}
			require.Equal(t, want, r.stderr)
			for _, s := range secrets {
				require.NotContains(t, r.stdout+r.stderr, s, "a credential was printed")
			}
		})
	}
}

// TestWaitWithNothingListening: with nothing listening at --url, wait says
// so at the first failure. A refused connection is not a pending job: after
// a few quick tries wait stops with exit 1 and says the service could not be
// reached (once it waited its whole timeout, 10 minutes by default); a
// shorter timeout still ends it first, naming the last failure (exit 3).
func TestWaitWithNothingListening(t *testing.T) {
	t.Parallel()
	b := setupWait(t)
	id := b.pending.ID.String()
	refused := "GET /patients/composition/job/" + id + ": dial tcp 127.0.0.1:1: connect: connection refused"
	tests := []struct {
		name    string
		timeout string
		code    int
		last    string // the second line, after "jobstatus: "
	}{
		{"GivesUpAfterAFewTries", "1m", 1, "job " + id + ": the service could not be reached (4 tries): " + refused},
		{"NamesTheFailureAtTheTimeout", "1s", 3, "no final answer for job " + id + " within 1s; last error: " + refused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := b.wait(context.Background(), []string{"JOBSTATUS_TOKEN=" + b.token, "JOBSTATUS_API_KEY=" + testkit.KeyA},
				id, "--url", "http://127.0.0.1:1", "--timeout", tt.timeout)
			require.Equal(t, tt.code, r.code, "stderr: %s", r.stderr)
			require.Empty(t, r.stdout)
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			require.Len(t, lines, 2, "the first failure, then the end: %q", r.stderr)
			require.Equal(t, "jobstatus: job "+id+": "+refused+"; retrying until the timeout ("+tt.timeout+"), or 4 tries in a row without an answer", lines[0])
			require.Equal(t, "jobstatus: "+tt.last, lines[1])
			for _, s := range b.secrets {
				require.NotContains(t, r.stderr, s, "a credential was printed")
			}
		})
	}
}

// TestWaitCancelledReturnsAtOnce: an interrupt (the command's context
// ends) stops a held wait at once, exit 1.
func TestWaitCancelledReturnsAtOnce(t *testing.T) {
	t.Parallel()
	b := setupWait(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan cliResult, 1)
	go func() {
		done <- b.wait(ctx, []string{"JOBSTATUS_TOKEN=" + b.token, "JOBSTATUS_API_KEY=" + testkit.KeyA},
			b.pending.ID.String(), "--url", b.url, "--timeout", "0")
	}()
	<-b.held
	cancel()
	r := <-done
	require.Equal(t, 1, r.code)
	require.Equal(t, "jobstatus: job "+b.pending.ID.String()+": interrupted\n", r.stderr)
}

// writeToken is a worker's token: the write scope only.
func (b *waitBundle) writeToken(t *testing.T) string {
	t.Helper()
	c := testkit.Claims(testkit.ClientA)
	c["scope"] = domain.ScopeCompositionJobWrite
	tok := b.kit.Sign(b.kit.Header(), c)
	b.secrets = append(b.secrets, tok)
	return tok
}

// TestWaitEscapesTextFromElsewhere: what wait prints on stderr comes partly
// from others: a FAILED job's message (any worker, hand-written SQL) and a
// server's error message. Printed raw, an escape sequence in it was an
// instruction to the operator's terminal (clear the screen, set the
// clipboard, turn the line around); it is printed escaped.
func TestWaitEscapesTextFromElsewhere(t *testing.T) {
	t.Parallel()
	b := setupWait(t)
	env := []string{"JOBSTATUS_TOKEN=" + b.token, "JOBSTATUS_API_KEY=" + testkit.KeyA}
	ctx := context.Background()
	j, err := b.ops.CreateJob.Handle(ctx, app.CreateJob{ClientID: testkit.ClientA, ETA: time.Minute})
	require.NoError(t, err)
	_, err = b.ops.FailJob.Handle(ctx, app.FailJob{ID: j.ID.String(), Code: 422, Message: "bad\x1b[2J\x1b]52;c;aGk=\a\nsigned\u202e"})
	require.NoError(t, err)
	r := b.wait(ctx, env, j.ID.String(), "--url", b.url)
	require.Equal(t, 1, r.code)
	require.Equal(t, "jobstatus: job "+j.ID.String()+` FAILED: 422 bad\x1b[2J\x1b]52;c;aGk=\a`+"\n"+`jobstatus: signed\u202e`+"\n", r.stderr)
	require.Equal(t, "bad\x1b[2J\x1b]52;c;aGk=\a\nsigned\u202e", decodeWaited(t, r).Error.Message, "stdout is JSON, which keeps the message")

	hostile := testkit.StartServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":{"type":"service_unavailable\u001b[31m","message":"busy\u001b]0;pwned\u0007"},"meta":{"code":503}}`))
	}), zap.NewNop())
	r = b.wait(ctx, env, j.ID.String(), "--url", hostile, "--timeout", "200ms")
	require.Equal(t, 3, r.code)
	require.NotContains(t, r.stderr, "\x1b")
	require.NotContains(t, r.stderr, "\a")
	require.Contains(t, r.stderr, `the service answered 503 service_unavailable\x1b[31m: busy\x1b]0;pwned\a`)
}
