// Package e2e runs the real jobstatus binary as a subprocess against
// PostgreSQL in a container: migrations, the job commands, and the HTTP
// service with real tokens and api-keys, as an operator would.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

var (
	pg  *pgtest.Postgres
	bin string
)

func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m, func(p *pgtest.Postgres) int {
		pg = p
		dir, err := os.MkdirTemp("", "jobstatus-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "jobstatus")
		build := exec.Command("go", "build", "-o", bin, "github.com/jobstatus/jobstatus/cmd/jobstatus")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build jobstatus: %v\n", err)
			return 1
		}
		return m.Run()
	}))
}

// result is what a command printed and how it ended.
type result struct {
	stdout, stderr string
	code           int
}

// jobstatus runs the binary with env (and nothing else from this process
// but PATH and HOME) and waits for it.
func jobstatus(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("run jobstatus %v: %v", args, err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// jobView is what the job commands print.
type jobView struct {
	ID       string `json:"id"`
	ClientID string `json:"client_id"`
	Status   string `json:"status"`
	ETA      time.Time
	Links    []map[string]string `json:"links"`
	Error    *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func mustJob(t *testing.T, r result) jobView {
	t.Helper()
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	var j jobView
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j), r.stdout)
	return j
}

// service is a running `jobstatus serve`.
type service struct {
	url    string
	cmd    *exec.Cmd
	stderr *lockedBuffer
	exited chan error
	once   sync.Once
	exit   error
}

// terminate sends SIGTERM and waits for the process to end; it is safe to
// call more than once.
func (s *service) terminate(within time.Duration) (error, bool) {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case s.exit = <-s.exited:
		case <-time.After(within):
			_ = s.cmd.Process.Kill()
			s.exit = errors.New("did not stop in time")
		}
	})
	return s.exit, s.exit == nil
}

type lockedBuffer struct {
	buf bytes.Buffer
	mu  chan struct{}
}

func newLockedBuffer() *lockedBuffer { return &lockedBuffer{mu: make(chan struct{}, 1)} }

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

// serve starts the service and waits until it answers; the test's cleanup
// sends SIGTERM and requires a clean exit.
func serve(t *testing.T, env []string, args ...string) *service {
	t.Helper()
	port, err := pgtest.FreePort()
	require.NoError(t, err)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "JOBSTATUS_HTTP_ADDR=" + addr, "JOBSTATUS_ADMIN_ADDR=127.0.0.1:0"}, env...)
	s := &service{url: "http://" + addr, cmd: cmd, stderr: newLockedBuffer(), exited: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = io.Discard, s.stderr
	require.NoError(t, cmd.Start())
	exited := s.exited
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		err, _ := s.terminate(30 * time.Second)
		require.NoError(t, err, "serve must exit 0 on SIGTERM; stderr:\n%s", s.stderr.String())
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(s.url + "/healthz-probe")
		if err == nil {
			res.Body.Close()
			return s
		}
		select {
		case err := <-exited:
			t.Fatalf("serve exited early: %v\n%s", err, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not answer in time:\n%s", s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type reply struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (s *service) get(t *testing.T, method, path string, header map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	r := reply{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &r.body), string(raw))
	}
	return r
}

func errorType(r reply) string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["type"].(string)
	return s
}

func errorMessage(r reply) string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

// authEnv is the production configuration: JWKS file, api-key file,
// issuer and audience, all from the environment.
func authEnv(kit *testkit.Kit) []string {
	return []string{
		"JOBSTATUS_AUTH_JWKS_FILE=" + kit.JWKSFile,
		"JOBSTATUS_API_KEYS_FILE=" + kit.KeysFile,
		"JOBSTATUS_AUTH_ISSUER=" + testkit.Issuer,
		"JOBSTATUS_AUTH_AUDIENCE=" + testkit.Audience,
	}
}

func jobPath(id string) string { return "/patients/composition/job/" + id }

func creds(token, key string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token, "api-key": key}
}
