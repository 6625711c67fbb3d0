package test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/apikey"
)

// TestAPIKeysDocExample loads the example file of docs/api-keys.md with the
// real parser and checks that each key named in a comment opens its entry.
func TestAPIKeysDocExample(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../docs/api-keys.md")
	require.NoError(t, err)
	_, block, ok := strings.Cut(string(raw), "```yaml\n")
	require.True(t, ok, "docs/api-keys.md has no yaml example")
	block, _, _ = strings.Cut(block, "```")
	store, err := apikey.Parse([]byte(block))
	require.NoError(t, err, "the documented example must load")

	entry := regexp.MustCompile(`id: (\S+)\n(?:.*\n)*?\s+key_sha256: ([0-9a-f]{64})\s+# sha256\("([^"]+)"\)`)
	matches := entry.FindAllStringSubmatch(block, -1)
	require.Len(t, matches, store.Len(), "every example entry names its key in a comment")
	for _, m := range matches {
		id, digest, key := m[1], m[2], m[3]
		require.Equal(t, digest, apikey.Digest(key), "the documented digest of %q", key)
		c, err := store.ClientByAPIKey(context.Background(), key)
		require.NoError(t, err)
		require.Equal(t, id, c.ID)
	}
}

// TestDocsLinkOnlyInside checks the README and docs/: a relative link
// leads to a file of the repository, and a URL is either the service on
// loopback or a reserved example name (RFC 2606: .example, .test), never
// a page outside the repository.
func TestDocsLinkOnlyInside(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../docs/*.md")
	require.NoError(t, err)
	files = append(files, "../README.md")
	link := regexp.MustCompile(`\]\(([^)#\s]*)(#[^)]*)?\)`)
	anyURL := regexp.MustCompile(`[a-z]+://[^\s)'"` + "`" + `]+`)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range link.FindAllStringSubmatch(string(raw), -1) {
			target := m[1]
			if target == "" || strings.Contains(target, "://") {
				continue // an anchor in the same page; URLs are checked below
			}
			path := filepath.Join(filepath.Dir(f), target)
			rel, err := filepath.Rel("..", path)
			require.NoError(t, err)
			require.False(t, strings.HasPrefix(rel, ".."), "%s links outside the repository: %s", f, target)
			_, err = os.Stat(path)
			require.NoError(t, err, "%s links to a missing file: %s", f, target)
		}
		for _, u := range anyURL.FindAllString(string(raw), -1) {
			parsed, err := url.Parse(u)
			require.NoError(t, err, u)
			host := parsed.Hostname()
			inside := host == "127.0.0.1" || host == "localhost" || strings.HasSuffix(host, ".example") || strings.HasSuffix(host, ".test")
			require.True(t, inside, "%s names a URL outside the repository: %s", f, u)
		}
	}
}

// TestDocsLinksResolve checks every relative link of README.md and
// docs/*.md: its file exists and, when it names an #anchor, a heading of
// that file (or of the same page) has that anchor as GitHub makes it.
func TestDocsLinksResolve(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../docs/*.md")
	require.NoError(t, err)
	files = append(files, "../README.md")
	link := regexp.MustCompile(`\]\(([^)#\s]*)(?:#([^)\s]*))?\)`)
	anchors := map[string]map[string]bool{}
	anchorsOf := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		anchors[path] = headingAnchors(string(raw))
		return anchors[path]
	}
	checked := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range link.FindAllStringSubmatch(string(raw), -1) {
			target, anchor := m[1], m[2]
			if strings.Contains(target, "://") {
				continue // TestDocsLinkOnlyInside checks URLs
			}
			path := f
			if target != "" {
				path = filepath.Join(filepath.Dir(f), target)
				_, err := os.Stat(path)
				require.NoError(t, err, "%s links to a missing file: %s", f, m[0])
			}
			if anchor != "" {
				require.True(t, strings.HasSuffix(path, ".md"), "%s links to an anchor of a file that is not markdown: %s", f, m[0])
				require.True(t, anchorsOf(path)[anchor], "%s links to a missing heading: %s", f, m[0])
			}
			checked++
		}
	}
	require.Greater(t, checked, 20, "links checked")
}

// headingAnchors returns the anchors GitHub gives the headings of a
// markdown page: lower case, punctuation dropped, spaces as hyphens, and
// -1, -2, … after repeats. Headings inside fenced blocks are not headings.
func headingAnchors(page string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	drop := regexp.MustCompile(`[^\p{L}\p{N}\s_-]`)
	fenced := false
	for line := range strings.Lines(page) {
		line = strings.TrimRight(line, "\n")
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		text, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " ")
		if fenced || !strings.HasPrefix(line, "#") || !ok {
			continue
		}
		slug := strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(strings.TrimSpace(text)), ""), " ", "-")
		if n := seen[slug]; n > 0 {
			out[slug+"-"+strconv.Itoa(n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}
