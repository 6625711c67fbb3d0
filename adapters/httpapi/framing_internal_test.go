package httpapi

import "testing"

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
