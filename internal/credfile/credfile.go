// Package credfile reads the files the service loads and reloads while it
// runs (the api-keys file, the JWKS file): regular files only, read in
// bounded size and time. A named pipe, a directory, a device or a socket
// at the path is refused at once, never opened for a blocking read, and a
// read that does not end in time (a hung network mount) is given up, so a
// bad path can never stall a reload or a shutdown.
package credfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// Timeout bounds one read of a file.
const Timeout = 5 * time.Second

// ErrNotRegular says the path is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge says the file is larger than the reader allows.
var ErrTooLarge = errors.New("file too large")

// Read returns the content of the regular file at path, at most limit
// bytes. It opens without blocking (O_NONBLOCK: opening a named pipe
// waits for a writer otherwise) and checks the opened file with fstat,
// so a path swapped between a check and the open is caught too. It gives
// up after Timeout or when ctx ends; errors name the path.
func Read(ctx context.Context, path string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1) // the reader never blocks on it, even when given up
	go func() {
		data, err := read(path, limit)
		done <- result{data, err}
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("read %s: not read in time: %w", path, ctx.Err())
	}
}

func read(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, openFlags, 0)
	if err != nil {
		return nil, err // *fs.PathError names the path
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: %w: it is a %s", path, ErrNotRegular, kind(info.Mode()))
	}
	if info.Size() > limit {
		return nil, fmt.Errorf("read %s: %w: %d bytes, at most %d are read", path, ErrTooLarge, info.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit { // grew since fstat
		return nil, fmt.Errorf("read %s: %w: over %d bytes", path, ErrTooLarge, limit)
	}
	return data, nil
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeDir != 0:
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "file of another kind"
}
