package jwtauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestJWKSURLPasswordNeverShown: a JWKS URL may carry credentials in its
// userinfo (https://user:secretpass@host/jwks). Whatever goes wrong with it,
// no log line, error or readiness text shows the password; the URL is
// shown as url.URL.Redacted does, like the database URL.
func TestJWKSURLPasswordNeverShown(t *testing.T) {
	t.Parallel()
	const password = "secretpass"
	kit := testkit.New(t)
	serve := func(t *testing.T, h http.HandlerFunc) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return strings.Replace(srv.URL, "http://", "http://user:"+password+"@", 1) + "/jwks"
	}
	tests := []struct {
		name  string
		url   func(t *testing.T) string
		shown string // what the messages say instead; empty: not checked
	}{
		{"Status500", func(t *testing.T) string {
			return serve(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
		}, ""},
		{"NotAJWKSet", func(t *testing.T) string {
			return serve(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("not json")) })
		}, "user:xxxxx@"},
		{"NoUsableKey", func(t *testing.T) string {
			return serve(t, func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write(testkit.JWKS(map[string]any{"kty": "XYZ"}))
			})
		}, "user:xxxxx@"},
		{"Unreachable", func(*testing.T) string { return "http://user:" + password + "@127.0.0.1:1/jwks" }, ""},
		{"NotHTTP", func(*testing.T) string { return "ftp://user:" + password + "@127.0.0.1/jwks" }, "user:xxxxx@"},
		{"Unparseable", func(*testing.T) string { return "http://user:" + password + "@127.0.0.1:99999x/jwks" }, "(unparseable URL)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			core, logs := observer.New(zapcore.DebugLevel)
			var shown []string
			v, err := jwtauth.NewVerifier(kit.URLConfig(tt.url(t)), zap.New(core))
			if err != nil {
				shown = append(shown, err.Error())
			} else {
				t.Cleanup(v.Close)
				if err := v.Reload(context.Background()); err != nil {
					shown = append(shown, err.Error())
				}
				detail, err := v.Ready(context.Background())
				shown = append(shown, detail, fmt.Sprint(err))
			}
			for _, e := range logs.All() {
				shown = append(shown, e.Message+" "+fmt.Sprint(e.ContextMap()))
			}
			all := strings.Join(shown, "\n")
			require.NotEmpty(t, strings.TrimSpace(all), "something went wrong, and says so")
			require.NotContains(t, all, password)
			require.Contains(t, all, tt.shown)
		})
	}
}
