package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/domain"
)

// FuzzDecodeStrict checks decodeStrict against encoding/json: whatever it
// accepts, the standard decoder with DisallowUnknownFields accepts as the
// same value and the input is valid UTF-8; whatever it refuses is a
// ValidationError, never a panic.
func FuzzDecodeStrict(f *testing.F) {
	for _, seed := range []string{
		`{"links":[{"entity":"composition","href":"/p"}]}`,
		`{"links":[]}`, `{"links":null}`, `{"links":[{"Entity":"x"}]}`,
		`{"links":[{"entity":"a","entity":"b"}]}`, `{"links":[]} []`,
		"{\"links\":[{\"entity\":\"\xff\"}]}", `{"code":1,"message":"m"}`, `[]`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var strict completeRequest
		err := decodeStrict(raw, &strict)
		if err != nil {
			var v *domain.ValidationError
			require.True(t, errors.As(err, &v), "%v", err)
			require.NotEmpty(t, v.Field)
			return
		}
		require.True(t, utf8.Valid(raw))
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		var loose completeRequest
		require.NoError(t, dec.Decode(&loose))
		require.Equal(t, loose, strict)
	})
}
