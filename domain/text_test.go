package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jobstatus/jobstatus/domain"
)

// hrefCases are hrefs of every kind a link may and may not carry
// (RFC 3986 section 3.3 path-absolute, issue 10 item 9).
var hrefCases = []struct {
	name, href string
	ok         bool
}{
	{"Composition", "/patients/p/encounter/e/composition/c", true},
	{"Root", "/", true},
	{"TrailingSlash", "/patients/p/", true},
	{"SubDelimsColonAt", "/a:b@c!$&'()*+,;=-._~", true},
	{"PercentEncodedSpace", "/a%20b", true},
	{"PercentEncodedUTF8", "/caf%C3%A9", true},
	{"LowercaseHex", "/caf%c3%a9", true},
	{"DotInsideSegment", "/a/b.json", true},
	{"ThreeDots", "/a/...", true},

	{"IssueNetworkPath", "//evil.example/patients/p/encounter/e/composition/c", false},
	{"NetworkPathShort", "//evil", false},
	{"TripleSlash", "///evil", false},
	{"Backslashes", `\\evil`, false},
	{"SlashBackslash", `/\evil`, false},
	{"BackslashInside", `/a\b`, false},
	{"HTTPURL", "http://x", false},
	{"HTTPSURL", "https://evil.example/y", false},
	{"JavaScript", "javascript:alert(1)", false},
	{"Data", "data:text/html,x", false},
	{"SchemeRelativeColon", "x:/a", false},
	{"Space", "/a b", false},
	{"Tab", "/a\tb", false},
	{"Newline", "/a\n", false},
	{"CarriageReturn", "/a\r", false},
	{"NUL", "/a\x00", false},
	{"DEL", "/a\x7f", false},
	{"BadPercent", "/a%zz", false},
	{"TruncatedPercent", "/a%2", false},
	{"LonePercent", "/a%", false},
	{"RightToLeftOverride", "/\u202e", false},
	{"NonASCII", "/café", false},
	{"NoBreakSpace", "/a\u00a0b", false},
	{"InvalidUTF8", "/a\xff", false},
	{"EncodedInvalidUTF8", "/a%ff", false},
	{"EncodedNUL", "/a%00", false},
	{"EncodedNewline", "/a%0A", false},
	{"EncodedRLO", "/a%E2%80%AE", false},
	{"EncodedZeroWidthSpace", "/a%E2%80%8B", false},
	{"EncodedC1", "/a%C2%85", false},
	{"EncodedSlashes", "/%2F%2Fevil.example", false},
	{"EncodedBackslash", "/%5Cevil", false},
	{"Empty", "", false},
	{"Relative", "a/b", false},
	{"DotRelative", "./a", false},
	{"DotDotRelative", "../a", false},
	{"DotSegment", "/a/./b", false},
	{"DotDotSegment", "/a/../b", false},
	{"DotDotAtEnd", "/a/..", false},
	{"EncodedDotDot", "/a/%2e%2e/b", false},
	{"Query", "/p?x=1", false},
	{"Fragment", "/p#x", false},
	{"Quote", `/a"b`, false},
	{"AngleBrackets", "/a<b>", false},
	{"Braces", "/a{b}", false},
	{"Pipe", "/a|b", false},
	{"Caret", "/a^b", false},
	{"Backtick", "/a`b", false},
	{"TooLong", "/" + strings.Repeat("a", 2048), false},
}

func TestValidHref(t *testing.T) {
	t.Parallel()
	for _, tt := range hrefCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := domain.ValidHref(tt.href); got != tt.ok {
				t.Fatalf("ValidHref(%q) = %v, want %v", tt.href, got, tt.ok)
			}
			_, err := domain.Done([]domain.Link{{Entity: "composition", Href: tt.href}}, t0)
			if tt.ok != (err == nil) {
				t.Fatalf("Done with href %q: err = %v, want ok=%v", tt.href, err, tt.ok)
			}
			if err != nil {
				assertField(t, err, "links")
			}
		})
	}
}

func TestLinkEntity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, entity, reason string
	}{
		{"Composition", "composition", ""},
		{"TokenChars", "a!#$%&'*+-.^_`|~9", ""},
		{"Empty", "", "every link needs an entity"},
		{"Blank", "  ", "every link needs an entity"},
		{"Space", "compo sition", "every link entity must be a token"},
		{"Slash", "a/b", "every link entity must be a token"},
		{"Quote", `a"b`, "every link entity must be a token"},
		{"Newline", "a\n", "every link entity must be a token"},
		{"NonASCII", "compositión", "every link entity must be a token"},
		{"InvalidUTF8", "a\xff", "every entity and href must be valid UTF-8 without NUL bytes"},
		{"NUL", "a\x00", "every entity and href must be valid UTF-8 without NUL bytes"},
		{"TooLong", strings.Repeat("a", 2049), "every link entity must be a token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := domain.Done([]domain.Link{{Entity: tt.entity, Href: "/p"}, link}, t0) // beside the composition link a DONE job needs
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Done with entity %q: %v", tt.entity, err)
				}
				return
			}
			ve := assertField(t, err, "links")
			if !strings.HasPrefix(ve.Reason, tt.reason) {
				t.Fatalf("reason = %q, want prefix %q", ve.Reason, tt.reason)
			}
		})
	}
}

// badText is text PostgreSQL cannot store (issue 10 item 10).
var badText = map[string]string{
	"InvalidByte":       "bad\xff",
	"LoneContinuation":  "a\x80b",
	"TruncatedSequence": "caf\xc3",
	"OverlongSlash":     "\xc0\xaf",
	"Surrogate":         "\xed\xa0\x80",
	"AboveMaxRune":      "\xf4\x90\x80\x80",
	"NUL":               "a\x00b",
	"OnlyNUL":           "\x00",
}

func TestTextPostgresCannotStore(t *testing.T) {
	t.Parallel()
	for name, s := range badText {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := domain.Failed(422, s, t0)
			assertField(t, err, "message")
			_, err = domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "mis" + s, ETA: t0, Now: t0})
			assertField(t, err, "client")
			_, err = domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "mis", IdempotencyKey: "k" + s, ETA: t0, Now: t0})
			assertField(t, err, "idempotency_key")
			_, err = domain.Done([]domain.Link{{Entity: "composition", Href: "/p" + s}}, t0)
			assertField(t, err, "links")
			if err := domain.CheckText("x", s); err == nil {
				t.Fatalf("CheckText(%q) = nil", s)
			}
		})
	}
	for _, s := range []string{"ok", "Composition signature is not valid", "line\nbreak", "émoji 🎉", ""} {
		if err := domain.CheckText("x", s); err != nil {
			t.Errorf("CheckText(%q) = %v", s, err)
		}
	}
}

// TestFinishRevalidates: an outcome built by hand, not by Done or Failed,
// is refused by Finish and leaves the job unchanged.
func TestFinishRevalidates(t *testing.T) {
	t.Parallel()
	tests := map[string]domain.Outcome{
		"NetworkPathHref": {Status: domain.StatusDone, Links: []domain.Link{{Entity: "composition", Href: "//evil"}}, At: t0},
		"NoLinks":         {Status: domain.StatusDone, At: t0},
		"BadMessage":      {Status: domain.StatusFailed, Failure: &domain.Failure{Code: 422, Message: "bad\xff"}, At: t0},
		"NoFailure":       {Status: domain.StatusFailed, At: t0},
		"Pending":         {Status: domain.StatusPending, At: t0},
	}
	for name, o := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			j := pendingJob(t)
			next, changed, err := j.Finish(o)
			var ve *domain.ValidationError
			if !errors.As(err, &ve) || changed || next.Status != domain.StatusPending {
				t.Fatalf("Finish(%+v) = %v, %v, %v; want a validation error and the job unchanged", o, next.Status, changed, err)
			}
		})
	}
}

func assertField(t *testing.T, err error, field string) *domain.ValidationError {
	t.Helper()
	var ve *domain.ValidationError
	if !errors.As(err, &ve) || ve.Field != field {
		t.Fatalf("err = %v, want a validation error of field %q", err, field)
	}
	return ve
}
