package httpapi

import (
	nethttp "net/http"
	"strings"
	"testing"
)

// FuzzCredentials feeds arbitrary Authorization and api-key values to the
// header parsing: it must never panic, and whatever it accepts must be one
// bearer token without spaces and one non-empty key.
func FuzzCredentials(f *testing.F) {
	for _, seed := range [][2]string{
		{"Bearer abc.def.ghi", "key"},
		{"bearer  x.y.z", "k"},
		{"Basic YTpi", "k"},
		{"Bearer ", ""},
		{"Bearer a b", "k"},
		{"BEARER\tx", "k"},
		{strings.Repeat("B", 100), "k"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, auth, key string) {
		r := &nethttp.Request{Header: nethttp.Header{"Authorization": {auth}, "Api-Key": {key}}}
		c, err := credentials(r)
		if err != nil {
			return
		}
		if c.Token == "" || strings.ContainsAny(c.Token, " \t,") || c.APIKey == "" {
			t.Fatalf("accepted %q / %q as %+v", auth, key, c)
		}
		if !strings.HasSuffix(auth, c.Token) {
			t.Fatalf("token %q is not the end of %q", c.Token, auth)
		}
	})
}

// FuzzPreferWait feeds arbitrary Prefer headers: never a panic, never a
// negative or unbounded wait.
func FuzzPreferWait(f *testing.F) {
	for _, s := range []string{"wait=10", "respond-async, wait=5", "wait=\"3\"", "wait=-1", "wait=99999999999999999999", "handling=lenient; wait=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if d := preferredWait([]string{h}); d < 0 || d.Hours() > 1 {
			t.Fatalf("Prefer %q gave wait %s", h, d)
		}
	})
}

// FuzzFraming feeds arbitrary bytes to the request-framing scanner, cut at
// an arbitrary point: never a panic, and the same verdicts however the
// bytes arrive (net/http reads a connection in pieces of any size).
func FuzzFraming(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}GET / HTTP/1.1\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;x\r\n{}\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\n\n",
	} {
		f.Add([]byte(s), uint16(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		var whole, split framingScanner
		all := whole.feed(data, nil)
		at := int(cut) % (len(data) + 1)
		parts := split.feed(data[at:], split.feed(data[:at], nil))
		if strings.Join(all, "|") != strings.Join(parts, "|") || whole.lost != split.lost {
			t.Fatalf("verdicts depend on how the bytes arrive: %q / %q (lost %q / %q)", all, parts, whole.lost, split.lost)
		}
	})
}
