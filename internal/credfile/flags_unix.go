//go:build unix

package credfile

import (
	"os"
	"syscall"
)

// openFlags open without waiting for a named pipe's writer and without
// making a terminal the controlling one.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY
