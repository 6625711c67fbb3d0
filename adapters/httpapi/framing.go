package httpapi

import (
	"bytes"
	"context"
	"net"
	nethttp "net/http"
	"strconv"
	"sync"
)

// A request whose message framing cannot be trusted (RFC 9112 sections 6.1
// and 6.3) is answered and its connection closed, so that nothing read
// after it on that connection is taken for a request: the shape of request
// smuggling. net/http refuses some such requests itself (differing
// Content-Lengths, codings other than chunked) with 400 or 501 and a close;
// others it serves and keeps the connection: both Content-Length and
// Transfer-Encoding (it drops Content-Length), Transfer-Encoding on
// HTTP/1.0 (it drops Transfer-Encoding), obs-fold and bare LF line ends (it
// reads them as a proxy may not). Those fields are gone from the Request,
// so each connection reads its own bytes beside net/http: framingConn
// scans every request head it carries and keeps a verdict per request.

// maxScannedHead bounds a request head the scanner keeps; net/http refuses
// longer ones (MaxHeaderBytes) and closes.
const maxScannedHead = 8 * HeaderLimit

// framingListener wraps each accepted connection in a framingConn.
type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c}, nil
}

type framingKey struct{}

// withFramingConn puts the connection in its requests' contexts
// (http.Server.ConnContext).
func withFramingConn(ctx context.Context, c net.Conn) context.Context {
	if fc, ok := c.(*framingConn); ok {
		return context.WithValue(ctx, framingKey{}, fc)
	}
	return ctx
}

// closeUntrustedFraming answers a request whose framing is not trusted
// with "Connection: close", so net/http closes the connection after it.
func closeUntrustedFraming(next nethttp.Handler) nethttp.Handler {
	return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if fc, ok := r.Context().Value(framingKey{}).(*framingConn); ok && fc.next() != "" {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// framingConn scans the bytes net/http reads: request heads, then the body
// each head frames, so that the next head is found where net/http finds it.
type framingConn struct {
	net.Conn
	mu       sync.Mutex
	scan     framingScanner
	verdicts []string // one per request head scanned and not yet served: why its framing is not trusted, or ""
}

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.verdicts = c.scan.feed(p[:n], c.verdicts)
		c.mu.Unlock()
	}
	return n, err
}

// CloseWrite half-closes the connection as *net.TCPConn does: net/http
// does so before closing after an error answer, so that the answer is not
// lost to a reset while the client is still sending.
func (c *framingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// next returns the verdict of the request being served: requests on one
// connection are served in order, one at a time.
func (c *framingConn) next() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.verdicts) == 0 {
		if c.scan.lost != "" {
			return c.scan.lost
		}
		return "request head not seen" // cannot happen: net/http reads a head through Read first
	}
	v := c.verdicts[0]
	// Shifted, not resliced: the connection's requests then reuse one
	// backing array instead of growing a new one per request.
	c.verdicts = c.verdicts[:copy(c.verdicts, c.verdicts[1:])]
	return v
}

type scanState int

const (
	inHead scanState = iota
	inBody
	inChunkSize
	inChunkData
	inChunkEnd
	inTrailer
)

// framingScanner follows HTTP/1.1 message framing (RFC 9112 sections 6, 7)
// through a connection's bytes. Once a request's framing is not trusted,
// it stops: the connection closes after that request.
type framingScanner struct {
	state  scanState
	head   []byte // the head read so far (inHead), a chunk-size or trailer line
	remain int64  // body or chunk bytes still to skip
	lost   string // why scanning stopped
}

func (s *framingScanner) feed(p []byte, verdicts []string) []string {
	for len(p) > 0 && s.lost == "" {
		switch s.state {
		case inBody, inChunkData:
			n := min(int64(len(p)), s.remain)
			p, s.remain = p[n:], s.remain-n
			if s.remain == 0 {
				if s.state == inBody {
					s.state = inHead
				} else {
					s.state, s.head = inChunkEnd, s.head[:0]
				}
			}
			continue
		}
		line, rest, full := cutLine(p)
		p = rest
		s.head = append(s.head, line...)
		if len(s.head) > maxScannedHead {
			s.lost = "request head too long to follow"
			return append(verdicts, s.lost)
		}
		if !full {
			continue
		}
		switch s.state {
		case inHead:
			if !bytes.HasSuffix(s.head, []byte("\n\n")) && !bytes.HasSuffix(s.head, []byte("\n\r\n")) {
				continue
			}
			if bytes.Equal(s.head, []byte("\r\n")) || bytes.Equal(s.head, []byte("\n")) {
				s.lost = "empty line before the request line"
				return append(verdicts, s.lost)
			}
			verdict := s.startBody(s.head)
			s.head = s.head[:0]
			verdicts = append(verdicts, verdict)
			if verdict != "" {
				s.lost = verdict
			}
		case inChunkSize:
			size, ok := chunkSize(s.head)
			s.head = s.head[:0]
			switch {
			case !ok:
				s.lost = "malformed chunk size"
			case size == 0:
				s.state = inTrailer
			default:
				s.state, s.remain = inChunkData, size
			}
		case inChunkEnd:
			if !bytes.Equal(s.head, []byte("\r\n")) {
				s.lost = "chunk data not followed by CRLF"
			}
			s.state, s.head = inChunkSize, s.head[:0]
		case inTrailer:
			if bytes.Equal(s.head, []byte("\r\n")) {
				s.state = inHead
			}
			s.head = s.head[:0]
		}
	}
	return verdicts
}

// cutLine splits p after its first LF; full says whether there was one.
func cutLine(p []byte) (line, rest []byte, full bool) {
	if i := bytes.IndexByte(p, '\n'); i >= 0 {
		return p[:i+1], p[i+1:], true
	}
	return p, nil, false
}

// chunkSize reads a chunk-size line: hex digits, optional extensions, CRLF.
func chunkSize(line []byte) (int64, bool) {
	l, ok := bytes.CutSuffix(line, []byte("\r\n"))
	if !ok {
		return 0, false
	}
	digits, _, _ := bytes.Cut(l, []byte(";"))
	digits = bytes.TrimRight(digits, " \t")
	if len(digits) == 0 || len(digits) > 15 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(digits), 16, 64)
	return n, err == nil && n >= 0 && digits[0] != '+' && digits[0] != '-'
}

// Field names and values startBody looks for.
var (
	crlf             = []byte("\r\n")
	lf               = []byte("\n")
	http11           = []byte("HTTP/1.1")
	contentLength    = []byte("content-length")
	transferEncoding = []byte("transfer-encoding")
	chunked          = []byte("chunked")
)

// startBody judges a request head and sets the scanner to skip the body it
// frames. It returns why the framing is not trusted, or "". It allocates
// nothing for a head it trusts: it runs on every request.
func (s *framingScanner) startBody(head []byte) string {
	if bytes.Count(head, lf) != bytes.Count(head, crlf) {
		return "a line ends in a bare LF"
	}
	requestLine, rest, _ := bytes.Cut(head, crlf)
	sp := bytes.LastIndexByte(requestLine, ' ')
	if sp < 0 {
		return "malformed request line"
	}
	version := requestLine[sp+1:]
	var lengths, codings int // values, a comma-separated list counting as several
	var length, coding []byte
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, crlf)
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return "obs-fold (RFC 9112 section 5.2)"
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return "field line without a colon"
		}
		switch {
		case bytes.EqualFold(name, contentLength):
			lengths += 1 + bytes.Count(value, []byte(","))
			length = value
		case bytes.EqualFold(name, transferEncoding):
			codings += 1 + bytes.Count(value, []byte(","))
			coding = value
		}
	}
	switch {
	case codings > 0 && lengths > 0:
		return "both Content-Length and Transfer-Encoding (RFC 9112 section 6.1)"
	case codings > 0 && !bytes.Equal(version, http11):
		return "Transfer-Encoding in " + string(version) + " (RFC 9112 section 6.1)"
	case codings > 0:
		if codings != 1 || !bytes.EqualFold(bytes.Trim(coding, " \t"), chunked) {
			return "Transfer-Encoding other than chunked alone (RFC 9112 section 6.3)"
		}
		s.state, s.head = inChunkSize, s.head[:0]
		return ""
	case lengths > 1:
		return "more than one Content-Length (RFC 9112 section 6.3)"
	case lengths == 1:
		n, ok := digits(bytes.Trim(length, " \t"))
		if !ok {
			return "Content-Length is not digits (RFC 9110 section 8.6)"
		}
		if n > 0 {
			s.state, s.remain = inBody, n
		}
	}
	return ""
}

// digits reads 1*DIGIT that fits an int64.
func digits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
