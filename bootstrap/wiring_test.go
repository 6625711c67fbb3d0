package bootstrap_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/metrics"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/bootstrap"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// serveConfig is a valid serve configuration on loopback.
func serveConfig(t *testing.T) bootstrap.Config {
	t.Helper()
	kit := testkit.New(t)
	cfg := bootstrap.DefaultConfig()
	// Port 0 everywhere: a port freeAddr found free may be taken by a
	// parallel test before the service listens on it.
	cfg.HTTP.Addr, cfg.AdminAddr, cfg.Internal.Addr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Auth.JWKSFile, cfg.Auth.Issuer, cfg.Auth.Audience, cfg.APIKeysFile = kit.JWKSFile, testkit.Issuer, testkit.Audience, kit.KeysFile
	return cfg
}

// startServe starts the serve graph with cfg and fills targets (pointers,
// as fx.Populate takes them); the app must stop cleanly when the test ends.
func startServe(t *testing.T, cfg bootstrap.Config, targets ...any) {
	t.Helper()
	require.NoError(t, tryServe(t, cfg, targets...))
}

// startServeOnFreeAddrs starts the serve graph on the addresses withAddrs
// sets, from freeAddr, for tests that must know them before it starts:
// another parallel test may take such a port before the service listens,
// so a start refused for that is tried again on new ones.
func startServeOnFreeAddrs(t *testing.T, withAddrs func(*bootstrap.Config), cfg bootstrap.Config, targets ...any) bootstrap.Config {
	t.Helper()
	for try := 1; ; try++ {
		c := cfg
		withAddrs(&c)
		err := tryServe(t, c, targets...)
		if err == nil {
			return c
		}
		if try == 5 || !errors.Is(err, syscall.EADDRINUSE) {
			require.NoError(t, err)
		}
	}
}

// tryServe is startServe that returns a failed start's error.
func tryServe(t *testing.T, cfg bootstrap.Config, targets ...any) error {
	t.Helper()
	fxApp := fx.New(bootstrap.ServeOptions(cfg, zap.NewNop()), fx.Populate(targets...), fx.NopLogger)
	require.NoError(t, fxApp.Err())
	if err := fxApp.Start(context.Background()); err != nil {
		return err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, fxApp.Stop(ctx))
	})
	return nil
}

// freeAddr returns a loopback address nobody listens on right now, below
// the ephemeral ports (testkit.FreePort): one from port 0 was once taken,
// before the service listened, as the local port of a parallel test's
// outgoing connection.
func freeAddr(t *testing.T) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(body)
}

// TestModulesContributeThroughGroups: the admin listener serves every
// module's readiness check and collectors without knowing the modules, and
// every consumer of ports.JobRepository gets the decorated repository.
func TestModulesContributeThroughGroups(t *testing.T) {
	t.Parallel()
	cfg := serveConfig(t)
	var (
		repo     ports.JobRepository
		operator *app.Operator
	)
	cfg = startServeOnFreeAddrs(t, func(c *bootstrap.Config) { c.AdminAddr = freeAddr(t) }, cfg, &repo, &operator)
	require.IsType(t, &metrics.Repository{}, repo, "the store is decorated: cache, then transition counts")

	base := "http://" + cfg.AdminAddr
	ready := fetch(t, base+"/readyz")
	for _, check := range []string{`"store"`, `"keys"`} {
		require.Contains(t, ready, check)
	}
	exported := fetch(t, base+"/metrics")
	for _, line := range []string{
		`jobstatus_cache_hits_total{cache="jobs"}`,
		`jobstatus_cache_misses_total{cache="jobs"}`,
		`jobstatus_cache_entries{cache="jobs"}`,
		`jobstatus_cache_hits_total{cache="tokens"}`,
		`jobstatus_cache_misses_total{cache="tokens"}`,
		`jobstatus_waiters`,
		`jobstatus_stale_jobs_failed_total`,
	} {
		require.Contains(t, exported, line)
	}
}

// TestStatusUseCaseGetsTheLogPositionOfItsReads: the repository every
// consumer gets says at which log position it read (ports.SnapshotReader),
// through every decorator: held requests compare the changes they are
// handed with that position. Without it they fall back to the job's
// version, which PostgreSQL takes before its change's position (00012): a
// delete handed over late would then answer 404 for a job created again.
func TestStatusUseCaseGetsTheLogPositionOfItsReads(t *testing.T) {
	t.Parallel()
	var repo ports.JobRepository
	startServe(t, serveConfig(t), &repo)
	require.Implements(t, (*ports.SnapshotReader)(nil), repo)
}

// TestServeRefusesInvalidValuesAtOnce: values the adapters and use cases
// cannot work with stop the start with an error naming them, instead of a
// hang (more idle than open connections), a panic (negative pool sizes) or
// silence (negative eta settings).
func TestServeRefusesInvalidValuesAtOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*bootstrap.Config)
		want   string
	}{
		{"IdleAboveOpen", func(c *bootstrap.Config) { c.Database.MaxIdleConns = c.Database.MaxOpenConns * 2 }, "max idle connections"},
		{"NegativeIdle", func(c *bootstrap.Config) { c.Database.MaxIdleConns = -3 }, "max idle connections"},
		{"NegativeLifetime", func(c *bootstrap.Config) { c.Database.ConnMaxLifetime = -time.Minute }, "max lifetime"},
		{"NegativeMinSamples", func(c *bootstrap.Config) { c.ETA.MinSamples = -1 }, "min samples"},
		{"NegativeWaiters", func(c *bootstrap.Config) { c.Polling.MaxWaiters = -1 }, "max waiters"},
		{"ZeroBatch", func(c *bootstrap.Config) { c.Sweeper.Batch = 0 }, "batch"},
		{"ZeroJobCache", func(c *bootstrap.Config) { c.Cache.Jobs = 0 }, "jobcache"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := serveConfig(t)
			cfg.Database.URL = "postgres://u:p@127.0.0.1:1/db?sslmode=disable&connect_timeout=1"
			tt.mutate(&cfg)
			done := make(chan error, 1)
			go func() {
				fxApp := fx.New(bootstrap.ServeOptions(cfg, zap.NewNop()), fx.NopLogger)
				err := fxApp.Err()
				if err == nil {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					if err = fxApp.Start(ctx); err == nil {
						_ = fxApp.Stop(ctx)
					}
				}
				done <- err
			}()
			select {
			case err := <-done:
				require.ErrorContains(t, err, tt.want)
			case <-time.After(20 * time.Second):
				t.Fatal("serve neither started nor refused")
			}
		})
	}
}

// TestModuleNamesAreUnique: fx names a module in its errors and events; two
// modules of one name make both ambiguous.
func TestModuleNamesAreUnique(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	seen := map[string]string{}
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Module" {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "fx" {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			require.True(t, ok, "%s: module name is not a literal", fset.Position(call.Pos()))
			pos := fset.Position(call.Pos()).String()
			require.NotContains(t, seen, lit.Value, "module %s at %s and %s", lit.Value, seen[lit.Value], pos)
			seen[lit.Value] = pos
			return true
		})
	}
	require.GreaterOrEqual(t, len(seen), 10)
}
