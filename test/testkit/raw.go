package testkit

import (
	"bufio"
	"errors"
	"io"
	"net"
	nethttp "net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Raw writes req, bytes no Go client would send, on a fresh connection to
// addr (host:port) and reads one answer in full.
func Raw(t testing.TB, addr, req string) (*nethttp.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = conn.Write([]byte(req))
	require.NoError(t, err)
	res, err := nethttp.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, body
}

// Pipelined writes reqs on one connection at once and reads answers until
// the server closes it, returning each answer's status. A connection still
// open 10 s after the last answer fails the test: end the last request
// with "Connection: close".
func Pipelined(t testing.TB, addr string, reqs ...string) []int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	for _, r := range reqs {
		_, err = conn.Write([]byte(r))
		require.NoError(t, err)
	}
	br := bufio.NewReader(conn)
	var statuses []int
	for {
		// A close with requests unread may reach the client as a reset.
		if _, err := br.Peek(1); errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			return statuses
		} else if err != nil {
			t.Fatalf("after %d answers %v: %v (connection left open?)", len(statuses), statuses, err)
		}
		var req *nethttp.Request // tells ReadResponse that a HEAD answer has no body
		if i := len(statuses); i < len(reqs) {
			method, _, _ := strings.Cut(reqs[i], " ")
			req = &nethttp.Request{Method: method}
		}
		res, err := nethttp.ReadResponse(br, req)
		if errors.Is(err, syscall.ECONNRESET) {
			return statuses
		}
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		statuses = append(statuses, res.StatusCode)
		if errors.Is(err, syscall.ECONNRESET) {
			return statuses
		}
		require.NoError(t, err)
	}
}
