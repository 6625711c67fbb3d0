package jsontext_test

import (
	"testing"

	"github.com/jobstatus/jobstatus/internal/jsontext"
)

func TestValid(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]bool{
		`{"a":"b"}`:                true,
		`{"a":"\ud83d\ude00"}`:     true,  // a pair
		`{"a":"\\ud800"}`:          true,  // an escaped backslash, then letters
		`"\u00e9"`:                 true,  // not a surrogate
		`:"x"`:                     true,  // a run of tokens, as the write API's walk reads them
		`{"a":"\ud800"}`:           false, // lone high
		`{"a":"\udc00"}`:           false, // lone low
		`{"a":"\udc00\ud800"}`:     false, // reversed
		`{"a":"\ud800\u0041"}`:     false, // high, then no low
		`{"a":"\ud800x"}`:          false,
		`{"\ud800":1}`:             false, // in a name too
		"{\"a\":\"\xff\"}":         false, // invalid UTF-8
		"{\"a\":\"\xed\xa0\x80\"}": false, // a surrogate encoded in UTF-8
	} {
		if got := jsontext.Valid([]byte(text)); got != want {
			t.Errorf("Valid(%s) = %v, want %v", text, got, want)
		}
	}
}
