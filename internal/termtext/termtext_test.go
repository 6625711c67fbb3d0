package termtext_test

import (
	"testing"

	"github.com/jobstatus/jobstatus/internal/termtext"
)

func TestEscape(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Composition signature is not valid": "Composition signature is not valid",
		"Подпись недействительна, код 7":     "Подпись недействительна, код 7",
		"x\x1b[31m":        `x\x1b[31m`,
		"a\nb\tc\rd":       `a\nb\tc\rd`,
		"\x1b]52;c;aGk=\a": `\x1b]52;c;aGk=\a`,
		"abc\u202edef":     `abc\u202edef`,
		"del\x7f c1\u009b": `del\x7f c1\u009b`,
		"bad \xff byte":    `bad \xff byte`,
		"kept \uFFFD":      "kept \uFFFD",
		"nbsp\u00a0ok":     "nbsp\u00a0ok",
	} {
		if got := termtext.Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}
