package testkit

import (
	"encoding/json"
	"fmt"
	"io"
	nethttp "net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Reply is an HTTP answer read in full; Body is the decoded JSON, if any.
type Reply struct {
	Status int
	Header nethttp.Header
	Raw    []byte
	Body   map[string]any
}

// Do sends one request with c (http.DefaultClient when nil) and reads the
// answer; a non-empty body sent as application/json must be JSON. header values replace the
// request's, so a test can send a header twice or an empty one.
func Do(t testing.TB, c *nethttp.Client, method, url string, header nethttp.Header, body io.Reader) Reply {
	t.Helper()
	if c == nil {
		c = nethttp.DefaultClient
	}
	req, err := nethttp.NewRequest(method, url, body)
	require.NoError(t, err)
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	r := Reply{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(raw, &r.Body), "body %s", raw)
	}
	return r
}

// Auth is the two credential headers of the public API.
func Auth(token, apiKey string) nethttp.Header {
	return nethttp.Header{"Authorization": {"Bearer " + token}, "Api-Key": {apiKey}}
}

// JobPath is the public path of a job's status.
func JobPath(id any) string { return "/patients/composition/job/" + fmt.Sprint(id) }

// Data is the reply's data object, or nil.
func (r Reply) Data() map[string]any {
	d, _ := r.Body["data"].(map[string]any)
	return d
}

// ErrorType is the reply's error.type, or "".
func (r Reply) ErrorType() string { return r.errorField("type") }

// ErrorMessage is the reply's error.message, or "".
func (r Reply) ErrorMessage() string { return r.errorField("message") }

func (r Reply) errorField(name string) string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e[name].(string)
	return s
}
