package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/client"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// Worker services allowed to write in these tests.
const (
	workerSign   = "worker-sign"
	workerRefine = "worker-refine"
)

// workerService is `jobstatus serve` on PostgreSQL with the write API on
// its own loopback port and two writers.
type workerService struct {
	svc      *testkit.Process
	internal string // base URL of the write API
	admin    string
	dbEnv    []string
	kit      *testkit.Kit
}

func serveWorkers(t *testing.T) *workerService {
	t.Helper()
	kit := testkit.New(t)
	w := &workerService{kit: kit, admin: adminAddr(t), dbEnv: []string{"JOBSTATUS_DATABASE_URL=" + pg.Schema(t)}}
	internal := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	w.internal = "http://" + internal
	env := append(append([]string{}, w.dbEnv...), authEnv(kit)...)
	w.svc = serve(t, append(env, "JOBSTATUS_ADMIN_ADDR="+w.admin, "JOBSTATUS_INTERNAL_ADDR="+internal,
		"JOBSTATUS_INTERNAL_WRITERS="+workerSign+","+workerRefine))
	return w
}

// token mints a token with the binary's token command, as an operator would.
func (w *workerService) token(t *testing.T, clientID, scope string) string {
	t.Helper()
	r := jobstatus(t, authEnv(w.kit), "token", "--key", w.kit.KeyPEM, "--client", clientID, "--scope", scope, "--ttl", "10m")
	require.Equal(t, 0, r.code, r.stderr)
	return strings.TrimSpace(r.stdout)
}

// TestWorkerCreatesMISWaitsWorkerCompletes is the whole story through the
// real binary on PostgreSQL: a worker creates a job on the write API (an
// idempotent repeat returns it again), two MIS waiters hold it on the
// public API (the client package, and the `jobstatus wait` command in
// another process), the worker completes it, both return DONE with the
// links, and a second worker trying to fail it gets 409.
func TestWorkerCreatesMISWaitsWorkerCompletes(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	w := serveWorkers(t)
	ctx := context.Background()
	writeScope := domain.ScopeCompositionJobWrite
	sign, err := client.New(w.internal, client.WithToken(w.token(t, workerSign, writeScope)))
	require.NoError(t, err)
	refine, err := client.New(w.internal, client.WithToken(w.token(t, workerRefine, writeScope)))
	require.NoError(t, err)

	job, created, err := sign.Create(ctx, client.CreateParams{ClientID: testkit.ClientA, ETA: time.Minute, IdempotencyKey: "sign-4711"})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, client.StatusPending, job.Status)
	again, created, err := sign.Create(ctx, client.CreateParams{ClientID: testkit.ClientA, IdempotencyKey: "sign-4711"})
	require.NoError(t, err)
	require.False(t, created, "the same key while the job is PENDING is the same job")
	require.Equal(t, job.ID, again.ID)

	misToken := w.token(t, testkit.ClientA, domain.ScopeCompositionRead)
	mis, err := client.New(w.svc.URL, client.WithToken(misToken), client.WithAPIKey(testkit.KeyA))
	require.NoError(t, err)
	type result struct {
		job client.Job
		err error
	}
	waited := make(chan result, 1)
	waitCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	go func() {
		j, err := mis.Wait(waitCtx, job.ID)
		waited <- result{j, err}
	}()

	// The same wait from the command line, credentials in files.
	dir := t.TempDir()
	tokenFile, keyFile := filepath.Join(dir, "token"), filepath.Join(dir, "api-key")
	require.NoError(t, os.WriteFile(tokenFile, []byte(misToken+"\n"), 0o600))
	require.NoError(t, os.WriteFile(keyFile, []byte(testkit.KeyA+"\n"), 0o600))
	cmd := exec.CommandContext(waitCtx, bin, "wait", job.ID, "--url", w.svc.URL, "--token-file", tokenFile, "--api-key-file", keyFile, "--timeout", "2m")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())

	awaitWaiters(t, w.admin, 2)
	links := []client.Link{{Entity: "composition", Href: "/patients/p1/encounter/e1/composition/c1"}}
	done, err := sign.Complete(ctx, job.ID, links...)
	require.NoError(t, err)
	require.Equal(t, client.StatusDone, done.Status)

	got := <-waited
	require.NoError(t, got.err)
	require.Equal(t, client.StatusDone, got.job.Status)
	require.Equal(t, links, got.job.Links)

	require.NoError(t, cmd.Wait(), "wait exits 0 on DONE; stderr: %s", stderr.String())
	var printed client.Job
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &printed), stdout.String())
	require.Equal(t, got.job, printed)
	require.Empty(t, stderr.String())

	_, err = refine.Fail(ctx, job.ID, 500, "too late")
	require.ErrorIs(t, err, client.ErrConflict)
	var e *client.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, http.StatusConflict, e.Status)
	require.Equal(t, "conflict", e.Type)

	repeated, err := refine.Complete(ctx, job.ID, links...)
	require.NoError(t, err, "repeating the outcome the job has is 200")
	require.Equal(t, done, repeated)
	stored := mustJob(t, jobstatus(t, w.dbEnv, "jobs", "get", job.ID))
	require.Equal(t, "DONE", stored.Status, "the jobs command reads what the write API wrote")
	require.Equal(t, testkit.ClientA, stored.ClientID)
}

// TestWriteAPIAuthorizationMatrix: which token may do what, through the
// real binary. A reading token can never write, a writing token can never
// read through the public API without its scope, and only configured
// writers may write.
func TestWriteAPIAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	w := serveWorkers(t)
	writer, err := client.New(w.internal, client.WithToken(w.token(t, workerSign, domain.ScopeCompositionJobWrite)))
	require.NoError(t, err)
	job, _, err := writer.Create(context.Background(), client.CreateParams{ClientID: testkit.ClientA})
	require.NoError(t, err)

	read, write := domain.ScopeCompositionRead, domain.ScopeCompositionJobWrite
	internalJob := w.internal + "/internal/jobs/" + job.ID
	publicJob := w.svc.URL + jobPath(job.ID)
	tests := []struct {
		name     string
		url      string
		client   string // the token's client_id; empty: no token
		scope    string
		apiKey   string
		wantCode int
		wantType string
	}{
		{"ReadTokenOnWriteAPI", internalJob, testkit.ClientA, read, "", 403, "forbidden"},
		{"ReadTokenOfAWriterOnWriteAPI", internalJob, workerSign, read, "", 403, "forbidden"},
		{"WriteTokenOnPublicAPI", publicJob, testkit.ClientA, write, testkit.KeyA, 403, "forbidden"},
		{"UnknownWorkerClient", internalJob, "worker-unknown", write, "", 401, "access_denied"},
		{"MISClientIsNoWriter", internalJob, testkit.ClientA, write, "", 401, "access_denied"},
		{"NoTokenOnWriteAPI", internalJob, "", "", "", 401, "access_denied"},
		{"WriterReads", internalJob, workerRefine, write, "", 200, ""},
		{"BothScopesOnPublicAPI", publicJob, testkit.ClientA, read + " " + write, testkit.KeyA, 200, ""},
		{"ReadTokenOnPublicAPI", publicJob, testkit.ClientA, read, testkit.KeyA, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tt.client != "" {
				c := testkit.Claims(tt.client)
				c["scope"] = tt.scope
				h.Set("Authorization", "Bearer "+w.kit.Sign(w.kit.Header(), c))
			}
			if tt.apiKey != "" {
				h.Set("api-key", tt.apiKey)
			}
			r := testkit.Do(t, nil, http.MethodGet, tt.url, h, nil)
			require.Equal(t, tt.wantCode, r.Status, "%s", r.Raw)
			require.Equal(t, tt.wantType, r.ErrorType())
			if tt.wantCode == 200 {
				require.Equal(t, job.ID, r.Data()["id"])
			}
			if tt.wantCode == 401 {
				require.True(t, strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer"), r.Header.Get("WWW-Authenticate"))
			}
		})
	}
}
