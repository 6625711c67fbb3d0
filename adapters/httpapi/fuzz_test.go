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
