package yamlfile_test

import (
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/jobstatus/jobstatus/internal/yamlfile"
)

type doc struct {
	A int `yaml:"a"`
}

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"a: 1\n", "---\na: 1\n", "a: 1\n...\n", "a: 1\n---\n", "a: 1\n---\n# only a comment\n", "a: 1\n---\nnull\n", "a: 1\n---\n---\n"} {
		var d doc
		require.NoError(t, yamlfile.Decode([]byte(ok), &d), ok)
		require.Equal(t, 1, d.A, ok)
	}
	for _, bad := range []string{"a: 1\n---\na: 2\n", "a: 1\n---\nb: 2\n", "a: 1\n---\n[]\n", "a: 1\n---\nx\n", "a: 1\n---\n---\na: 2\n"} {
		var d doc
		err := yamlfile.Decode([]byte(bad), &d)
		require.ErrorContains(t, err, "a second YAML document", bad)
	}
	var d doc
	require.ErrorContains(t, yamlfile.Decode([]byte("a: 1\n--- [\n"), &d), "line 2")
	require.True(t, errors.Is(yamlfile.Decode(nil, &d), io.EOF), "no document is the decoder's io.EOF")
	var te *yaml.TypeError
	require.ErrorAs(t, yamlfile.Decode([]byte("b: 1\n"), &d), &te, "unknown keys are refused")
}
