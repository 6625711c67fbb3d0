package domain_test

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jobstatus/jobstatus/domain"
)

// FuzzValidHref checks what an accepted href promises every client that
// resolves it: a path on the service's own host, with no query or
// fragment, printable ASCII only.
func FuzzValidHref(f *testing.F) {
	for _, tt := range hrefCases {
		f.Add(tt.href)
	}
	base, err := url.Parse("https://registry.example/api/v1/")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, href string) {
		if !domain.ValidHref(href) {
			return
		}
		if !strings.HasPrefix(href, "/") || strings.HasPrefix(href, "//") || !utf8.ValidString(href) {
			t.Fatalf("accepted %q", href)
		}
		for i := 0; i < len(href); i++ {
			if href[i] <= ' ' || href[i] >= 0x7f || href[i] == '\\' {
				t.Fatalf("accepted %q with byte %#x", href, href[i])
			}
		}
		u, err := url.Parse(href)
		if err != nil || u.Scheme != "" || u.Host != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			t.Fatalf("accepted %q: %+v, %v", href, u, err)
		}
		resolved := base.ResolveReference(u)
		if resolved.Host != base.Host || resolved.Scheme != base.Scheme || resolved.EscapedPath() != href {
			t.Fatalf("accepted %q resolves to %s", href, resolved)
		}
	})
}
