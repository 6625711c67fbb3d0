package test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestMakeRunStopsCleanlyOnCtrlC runs `make run` at a terminal (a
// pseudo-terminal of its own) and types Ctrl-C once the service listens:
// make exits 0 and prints no "Error" or "Interrupt" line, as the service
// itself stops with 0. (Before, `go run` turned the stop into
// "make: *** [Makefile:27: run] Error 1".)
func TestMakeRunStopsCleanlyOnCtrlC(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	if testing.Short() {
		t.Skip("builds the binary")
	}
	master, slave := openPTY(t)
	free := func() string { return "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t)) }
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "run")
	cmd.Dir = ".."
	// BIN elsewhere: another build of bin/jobstatus may run beside this one.
	cmd.Env = append(os.Environ(), "BIN="+filepath.Join(t.TempDir(), "jobstatus"),
		"JOBSTATUS_HTTP_ADDR="+free(), "JOBSTATUS_ADMIN_ADDR="+free(), "JOBSTATUS_INTERNAL_ADDR="+free())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	require.NoError(t, cmd.Start())
	require.NoError(t, slave.Close())

	out := &testkit.LockedBuffer{}
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(out, master); close(copied) }() // ends with EIO once every writer is gone
	testkit.Eventually(t, 4*time.Minute, func() bool {
		return bytes.Contains([]byte(out.String()), []byte(`"admin"`)) || bytes.Contains([]byte(out.String()), []byte("admin\tlistening"))
	}, "make run did not start serving:\n%s", out)
	_, err := master.Write([]byte{0x03}) // Ctrl-C, as typed
	require.NoError(t, err)
	err = cmd.Wait()
	<-copied
	require.NoError(t, err, "make run after Ctrl-C:\n%s", out)
	require.Contains(t, out.String(), "stopped")
	require.NotContains(t, out.String(), "Error")
	require.NotContains(t, out.String(), "Interrupt")
}

// openPTY opens a pseudo-terminal pair with the standard library only.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	var unlock int32
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock)))
	require.Zero(t, errno, "unlockpt")
	var n uint32
	_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n)))
	require.Zero(t, errno, "ptsname")
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	return master, slave
}
