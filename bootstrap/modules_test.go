package bootstrap_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/bootstrap"
	"github.com/jobstatus/jobstatus/test/testkit"
)

func TestModuleGraphsValidate(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t)
	cfg := bootstrap.DefaultConfig()
	cfg.Auth.JWKSFile, cfg.Auth.Issuer, cfg.Auth.Audience, cfg.APIKeysFile = kit.JWKSFile, testkit.Issuer, testkit.Audience, kit.KeysFile
	pg := cfg
	pg.Database.URL = "postgres://u:p@127.0.0.1:1/db?sslmode=disable"
	logger := zap.NewNop()
	tests := map[string]fx.Option{
		"ServeMemory":   bootstrap.ServeOptions(cfg, logger),
		"ServePostgres": bootstrap.ServeOptions(pg, logger),
		"ToolPostgres":  bootstrap.ToolOptions(pg, logger),
		"ToolMemory":    bootstrap.ToolOptions(cfg, logger),
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, fx.ValidateApp(opts))
		})
	}
}

// validate is Config.Validate, as Serve takes it.
func validate(cfg bootstrap.Config, mode bootstrap.Mode) error { return cfg.Validate(mode) }

// TestServeDevTellsWhereTheDemoListens: serve --dev hands the command line
// its made-up key, api-key and demo jobs and the listeners' addresses once
// it listens, and stops cleanly.
func TestServeDevTellsWhereTheDemoListens(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan bootstrap.DevDemo, 1)
	done := make(chan error, 1)
	go func() {
		done <- bootstrap.Serve(ctx, bootstrap.ServeParams{Dev: true, Stderr: io.Discard,
			Environ:    []string{"JOBSTATUS_HTTP_ADDR=127.0.0.1:0", "JOBSTATUS_ADMIN_ADDR=127.0.0.1:0"},
			DevStarted: func(d bootstrap.DevDemo) error { started <- d; return nil }}, validate)
	}()
	var d bootstrap.DevDemo
	select {
	case d = <-started:
	case err := <-done:
		t.Fatalf("serve --dev ended: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("serve --dev did not start")
	}
	require.NotNil(t, d.Public)
	require.NotNil(t, d.Internal, "the write API runs, on a free port")
	require.NotEmpty(t, d.Kit.APIKey)
	require.Len(t, d.Kit.Jobs, 4, "one job in each status for the demo client, and one of another client")
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("serve --dev did not stop")
	}
}

// TestServeRefusesWithoutAuth: serve without --dev needs the auth settings.
func TestServeRefusesWithoutAuth(t *testing.T) {
	t.Parallel()
	err := bootstrap.Serve(context.Background(), bootstrap.ServeParams{Stderr: io.Discard,
		Environ: []string{"JOBSTATUS_HTTP_ADDR=127.0.0.1:0", "JOBSTATUS_ADMIN_ADDR=127.0.0.1:0"}}, validate)
	require.ErrorContains(t, err, "no auth configuration")
}
