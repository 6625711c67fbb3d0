package httpapi

import (
	"net"
	"testing"
	"time"
)

// TestFramingScanAllocatesNothing: the scan runs on every request, so a
// request framed one way costs no allocation once the connection's buffer
// has grown.
func TestFramingScanAllocatesNothing(t *testing.T) {
	reqs := []byte("GET /patients/composition/job/89678f60-4cdc-4fe3-ae83-e8b3ebd35c59 HTTP/1.1\r\nHost: x\r\n" +
		"Authorization: Bearer abc.def.ghi\r\napi-key: k\r\n\r\n" +
		"POST /internal/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}" +
		"POST /internal/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
	var s framingScanner
	verdicts := make([]string, 0, 8)
	allocs := testing.AllocsPerRun(100, func() {
		verdicts = s.feed(reqs, verdicts[:0])
	})
	if allocs != 0 || len(verdicts) != 3 || s.lost != "" {
		t.Fatalf("%v allocations, verdicts %q, lost %q", allocs, verdicts, s.lost)
	}
	for _, v := range verdicts {
		if v != "" {
			t.Fatalf("verdicts %q", verdicts)
		}
	}
}

// TestFramingConnAllocatesNothingPerRequest: a connection reads a request
// head, then its handler takes the verdict, request after request; the
// verdicts' buffer is reused, not regrown for each request (it was: the
// taken verdict was sliced off the front, so every append reallocated).
func TestFramingConnAllocatesNothingPerRequest(t *testing.T) {
	req := []byte("GET /patients/composition/job/89678f60-4cdc-4fe3-ae83-e8b3ebd35c59 HTTP/1.1\r\nHost: x\r\n" +
		"Authorization: Bearer abc.def.ghi\r\napi-key: k\r\n\r\n")
	c := &framingConn{Conn: repeatConn{req}}
	buf := make([]byte, 4096)
	serve := func() {
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
		if v := c.next(); v != "" {
			t.Fatalf("verdict %q", v)
		}
	}
	serve() // the buffers grow once
	if allocs := testing.AllocsPerRun(100, serve); allocs != 0 {
		t.Fatalf("%v allocations per request", allocs)
	}
}

// repeatConn is a connection whose every Read returns the same bytes.
type repeatConn struct{ b []byte }

func (c repeatConn) Read(p []byte) (int, error)     { return copy(p, c.b), nil }
func (repeatConn) Write(p []byte) (int, error)      { return len(p), nil }
func (repeatConn) Close() error                     { return nil }
func (repeatConn) LocalAddr() net.Addr              { return nil }
func (repeatConn) RemoteAddr() net.Addr             { return nil }
func (repeatConn) SetDeadline(time.Time) error      { return nil }
func (repeatConn) SetReadDeadline(time.Time) error  { return nil }
func (repeatConn) SetWriteDeadline(time.Time) error { return nil }
