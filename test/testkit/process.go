package testkit

import (
	"errors"
	"io"
	nethttp "net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Process is a running `jobstatus serve` started from a built binary.
type Process struct {
	// URL is the public listener's base URL.
	URL string
	// Stderr is what the process logged so far.
	Stderr *LockedBuffer

	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has ended
	waitErr error         // how it ended, once done is closed
	once    sync.Once
	exit    error
}

// StartBinary runs `bin serve args...` on a free loopback port with env (and
// of this process's environment only PATH), waits until it answers HTTP,
// and registers a cleanup that sends SIGTERM and requires exit status 0.
// The admin listener is on a random loopback port and the write API is off
// unless env sets them.
func StartBinary(t testing.TB, bin string, env []string, args ...string) *Process {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(FreePort(t))
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "JOBSTATUS_HTTP_ADDR=" + addr, "JOBSTATUS_ADMIN_ADDR=127.0.0.1:0",
		"JOBSTATUS_INTERNAL_ADDR="}, env...)
	p := &Process{URL: "http://" + addr, cmd: cmd, Stderr: &LockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = io.Discard, p.Stderr
	require.NoError(t, cmd.Start())
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		require.NoError(t, p.Terminate(30*time.Second), "serve must exit 0 on SIGTERM; stderr:\n%s", p.Stderr.String())
	})
	up := Within(20*time.Second, func() bool {
		if p.ended() {
			return true
		}
		res, err := nethttp.Get(p.URL + "/healthz-probe")
		if err != nil {
			return false
		}
		res.Body.Close()
		return true
	})
	switch {
	case p.ended():
		t.Fatalf("serve exited early: %v\n%s", p.waitErr, p.Stderr.String())
	case !up:
		t.Fatalf("serve did not answer in time:\n%s", p.Stderr.String())
	}
	return p
}

func (p *Process) ended() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Terminate sends SIGTERM and waits up to within for the process to end,
// then kills it. It returns nil only when the process ended by itself with
// status 0; it is safe to call more than once.
func (p *Process) Terminate(within time.Duration) error { return p.StopWith(syscall.SIGTERM, within) }

// Signal sends sig to the process, which goes on running unless sig ends it.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Running reports whether the process has not ended.
func (p *Process) Running() bool { return !p.ended() }

// StopWith is Terminate with another signal than SIGTERM.
func (p *Process) StopWith(sig os.Signal, within time.Duration) error {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(sig)
		timer := time.NewTimer(within)
		defer timer.Stop()
		select {
		case <-p.done:
			p.exit = p.waitErr
		case <-timer.C:
			_ = p.cmd.Process.Kill()
			<-p.done
			p.exit = errors.New("did not stop in time")
		}
	})
	return p.exit
}
