package bootstrap_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/bootstrap"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestInternalListener: serve runs the write API on its own listener with
// the configured writers and body cap, and the same verifier as the public
// API; an empty address runs none.
func TestInternalListener(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	cfg := serveConfig(t)
	cfg.Auth.JWKSFile = kit.JWKSFile
	cfg.Internal.Writers = []string{"worker-sign"}
	cfg.Internal.MaxBodyBytes = 64
	var l *bootstrap.InternalListener
	startServe(t, cfg, &l)
	require.NotNil(t, l.Addr())
	base := "http://" + l.Addr().String()

	token := func(client, scope string) string {
		c := testkit.Claims(client)
		c["scope"] = scope
		return kit.Sign(kit.Header(), c)
	}
	post := func(t *testing.T, tok, body string) testkit.Reply {
		return testkit.Do(t, nil, http.MethodPost, base+"/internal/jobs",
			http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/json"}}, strings.NewReader(body))
	}
	tests := []struct {
		name       string
		token      string
		body       string
		wantStatus int
		wantType   string
	}{
		{"WriterCreates", token("worker-sign", domain.ScopeCompositionJobWrite), `{"client_id":"mis-alpha"}`, http.StatusCreated, ""},
		{"ReadTokenForbidden", token(testkit.ClientA, domain.ScopeCompositionRead), `{"client_id":"mis-alpha"}`, http.StatusForbidden, "forbidden"},
		{"UnknownWriter", token("worker-other", domain.ScopeCompositionJobWrite), `{"client_id":"mis-alpha"}`, http.StatusUnauthorized, "access_denied"},
		{"BodyOverTheCap", token("worker-sign", domain.ScopeCompositionJobWrite), `{"client_id":"` + strings.Repeat("a", 64) + `"}`, http.StatusRequestEntityTooLarge, "request_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := post(t, tt.token, tt.body)
			require.Equal(t, tt.wantStatus, r.Status, "%s", r.Raw)
			require.Equal(t, tt.wantType, r.ErrorType())
		})
	}

	t.Run("Disabled", func(t *testing.T) {
		t.Parallel()
		off := serveConfig(t)
		off.Internal.Addr = ""
		var l *bootstrap.InternalListener
		startServe(t, off, &l)
		require.Nil(t, l.Addr())
	})
}
