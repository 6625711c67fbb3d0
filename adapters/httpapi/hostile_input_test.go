package httpapi_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWriteAPIRefusesHostileInput: through POST /internal/jobs/{id}/complete
// and /fail, links that are not absolute paths and text PostgreSQL cannot
// store (NUL travels as the JSON escape \u0000) are 400 with a sentence,
// and the job stays PENDING (issue 10, items 9 and 10).
func TestWriteAPIRefusesHostileInput(t *testing.T) {
	t.Parallel()
	b := setupInternal(t)
	const (
		href   = "Invalid links: every href must be an absolute path"
		entity = "Invalid links: every link entity must be a token (letters, digits and !#$%&'*+-.^_`|~)"
		link   = "Invalid links: every entity and href must be valid UTF-8 without NUL bytes"
	)
	complete := func(entity, href string) string {
		buf, err := json.Marshal(map[string]any{"links": []map[string]string{{"entity": entity, "href": href}}})
		require.NoError(t, err)
		return string(buf)
	}
	cases := map[string]struct{ route, body, msg string }{
		"IssueNetworkPath":    {"complete", complete("composition", "//evil.example/patients/p/encounter/e/composition/c"), href},
		"Backslashes":         {"complete", complete("composition", `\\evil`), href},
		"SlashBackslash":      {"complete", complete("composition", `/\evil`), href},
		"URL":                 {"complete", complete("composition", "http://x"), href},
		"JavaScript":          {"complete", complete("composition", "javascript:alert(1)"), href},
		"Space":               {"complete", complete("composition", "/a b"), href},
		"BadPercent":          {"complete", complete("composition", "/a%zz"), href},
		"Newline":             {"complete", complete("composition", "/a\n"), href},
		"RightToLeftOverride": {"complete", complete("composition", "/\u202e"), href},
		"EncodedSlashes":      {"complete", complete("composition", "/%2F%2Fevil"), href},
		"DotDot":              {"complete", complete("composition", "/a/../b"), href},
		"Empty":               {"complete", complete("composition", ""), href},
		"Relative":            {"complete", complete("composition", "./a"), href},
		"EntityNotToken":      {"complete", complete("compo sition", "/p"), entity},
		"EntityNUL":           {"complete", `{"links":[{"entity":"c\u0000","href":"/p"}]}`, link},
		"HrefNUL":             {"complete", `{"links":[{"entity":"composition","href":"/p\u0000"}]}`, link},
		"MessageNUL":          {"fail", `{"code":422,"message":"bad\u0000"}`, "Invalid message: must be valid UTF-8 without NUL bytes"},
		"MessageOnlyNUL":      {"fail", `{"code":422,"message":"\u0000"}`, "Invalid message: must be valid UTF-8 without NUL bytes"},
		"MessageInvalidUTF8":  {"fail", "{\"code\":422,\"message\":\"bad\xff\"}", "Invalid message: must be valid UTF-8"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			id := b.newJob(t)
			requireError(t, b.post(t, "/internal/jobs/"+id+"/"+c.route, b.writer(workerA), c.body), 400, "validation_failed", c.msg)
			got := b.do(t, "GET", "/internal/jobs/"+id, b.writer(workerA), nil)
			require.Equal(t, 200, got.Status)
			data := got.Body["data"].(map[string]any)
			require.Equal(t, "PENDING", data["status"], "refused input leaves the job unchanged")
		})
	}
}
