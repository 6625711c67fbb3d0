// Package pgtest runs PostgreSQL in a container for tests, the way
// this machine needs: host networking on a free loopback
// port, no reaper, readiness by the second "ready" log line (the first comes
// from the init server), and per-test isolation by schema.
package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// ImageEnv names the image to run; `make test` sets it.
const ImageEnv = "TEST_POSTGRES_IMAGE"

// SkipEnv, when set, skips container tests explicitly (make test-unit).
const SkipEnv = "JOBSTATUS_SKIP_CONTAINERS"

const (
	user     = "jobstatus"
	password = "jobstatus-test"
	database = "jobstatus"
)

// Postgres is a running container.
type Postgres struct {
	Container *testcontainers.DockerContainer
	Port      int
}

// Main is the body of a TestMain that needs PostgreSQL: it starts one
// container for the package, runs the tests, and removes the container
// whatever happened. run receives the container.
func Main(m *testing.M, run func(*Postgres) int) int {
	if os.Getenv(SkipEnv) != "" {
		fmt.Fprintf(os.Stderr, "pgtest: %s set, container tests skipped\n", SkipEnv)
		return run(nil)
	}
	ctx := context.Background()
	pg, err := Start(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		return 1
	}
	defer func() {
		if err := pg.Terminate(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: remove container: %v\n", err)
		}
	}()
	return run(pg)
}

// Skip skips the test when container tests are switched off.
func Skip(t testing.TB, pg *Postgres) {
	t.Helper()
	if pg == nil {
		t.Skipf("%s is set", SkipEnv)
	}
}

// Start runs the image named by TEST_POSTGRES_IMAGE and waits until it takes
// connections. It fails fast when the image is missing rather than letting
// testcontainers try to pull it for minutes.
func Start(ctx context.Context) (*Postgres, error) {
	image := os.Getenv(ImageEnv)
	if image == "" {
		return nil, fmt.Errorf("%s is not set: run the tests with `make test`, which prepares Docker and the image "+
			"(or set %s=1 to skip container tests)", ImageEnv, SkipEnv)
	}
	if out, err := exec.CommandContext(ctx, "docker", "image", "inspect", image).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("image %s is not available (%s): run scripts/test-env.sh", image, strings.TrimSpace(string(out)))
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	ctr, err := testcontainers.Run(ctx, image,
		testcontainers.WithEnv(map[string]string{
			"POSTGRES_USER": user, "POSTGRES_PASSWORD": password, "POSTGRES_DB": database,
			"PGPORT": strconv.Itoa(port),
		}),
		testcontainers.WithCmd("postgres", "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
			"-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "jit=off"),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) { hc.NetworkMode = "host" }),
		// PostgreSQL's fast shutdown, as the official image's STOPSIGNAL
		// (docker import cannot set it on the locally built image).
		testcontainers.WithConfigModifier(func(c *container.Config) { c.StopSignal = "SIGINT" }),
		testcontainers.WithWaitStrategyAndDeadline(90*time.Second,
			wait.ForLog("database system is ready to accept connections").WithOccurrence(2)),
	)
	if err != nil {
		if ctr != nil {
			_ = ctr.Terminate(context.Background(), testcontainers.StopTimeout(0))
		}
		return nil, fmt.Errorf("start postgres container: %w", err)
	}
	pg := &Postgres{Container: ctr, Port: port}
	if err := pg.waitSQL(ctx, 30*time.Second); err != nil {
		_ = pg.Terminate()
		return nil, err
	}
	return pg, nil
}

// FreePort returns a loopback TCP port that was free a moment ago, below
// the kernel's ephemeral range (testkit.LoopbackPort): a port 0 handed out
// is also what parallel tests' outgoing connections take as their local
// port, so it could be gone before the container binds it.
func FreePort() (int, error) { return testkit.LoopbackPort() }

// URL returns a connection URL; with schema set, the connection's
// search_path is that schema.
func (p *Postgres) URL(schema string) string {
	u := fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=5", user, password, p.Port, database)
	if schema != "" {
		u += "&search_path=" + schema
	}
	return u
}

func (p *Postgres) waitSQL(ctx context.Context, within time.Duration) error {
	db, err := postgres.Open(p.URL(""), Pool(1))
	if err != nil {
		return err
	}
	defer db.Close()
	answered := testkit.Within(within, func() bool {
		pingCtx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		err = db.PingContext(pingCtx)
		return err == nil
	})
	if !answered {
		return fmt.Errorf("postgres did not answer within %s: %w", within, err)
	}
	return nil
}

// Schema creates an empty, migrated schema for one test and returns a URL
// whose connections use it. The schema is dropped when the test ends.
func (p *Postgres) Schema(t testing.TB) string {
	t.Helper()
	url := p.URL(p.BareSchema(t))
	db, err := postgres.Open(url, Pool(1))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := postgres.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return url
}

// Database creates a database of its own for one test, migrated, and
// returns its URL and name: for tests that change the whole database (its
// settings, who may connect) or count the notifications on a channel,
// which every schema of a database shares. It is dropped when the test
// ends.
func (p *Postgres) Database(t testing.TB) (url, name string) {
	t.Helper()
	url, name = p.BareDatabase(t)
	db, err := postgres.Open(url, Pool(1))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := postgres.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return url, name
}

// BareDatabase is Database not migrated: for tests that hold the
// migrations' lock, which is the database's (every schema's).
func (p *Postgres) BareDatabase(t testing.TB) (url, name string) {
	t.Helper()
	name = "d_" + strings.ToLower(rand.Text())
	admin, err := postgres.Open(p.URL(""), Pool(1))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		db, err := postgres.Open(p.URL(""), Pool(1))
		if err == nil {
			_, _ = db.ExecContext(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
			_ = db.Close()
		}
	})
	return strings.Replace(p.URL(""), "/"+database+"?", "/"+name+"?", 1), name
}

// BareSchema creates an empty schema, not migrated, and returns its name.
// It is dropped when the test ends.
func (p *Postgres) BareSchema(t testing.TB) string {
	t.Helper()
	name := "t_" + strings.ToLower(rand.Text())
	ctx := context.Background()
	admin, err := postgres.Open(p.URL(""), Pool(1))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := postgres.Open(p.URL(""), Pool(1))
		if err == nil {
			_, _ = db.ExecContext(context.Background(), "DROP SCHEMA "+name+" CASCADE")
			_ = db.Close()
		}
	})
	return name
}

// Stop stops the server (the container keeps its data).
func (p *Postgres) Stop(ctx context.Context) error {
	timeout := 10 * time.Second
	return p.Container.Stop(ctx, &timeout)
}

// Kill stops the server without letting it shut down: a crash.
func (p *Postgres) Kill(ctx context.Context) error {
	var zero time.Duration
	return p.Container.Stop(ctx, &zero)
}

// Restart starts a stopped server again on the same port and waits for it.
func (p *Postgres) Restart(ctx context.Context) error {
	if err := p.Container.Start(ctx); err != nil {
		return err
	}
	return p.waitSQL(ctx, 60*time.Second)
}

// Pause freezes the server's processes (docker pause): it keeps its port
// and the kernel keeps accepting connections, but nothing answers.
func (p *Postgres) Pause(ctx context.Context) error { return p.docker(ctx, "pause") }

// Unpause lets a paused server run again.
func (p *Postgres) Unpause(ctx context.Context) error { return p.docker(ctx, "unpause") }

func (p *Postgres) docker(ctx context.Context, verb string) error {
	out, err := exec.CommandContext(ctx, "docker", verb, p.Container.GetContainerID()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker %s: %w: %s", verb, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Terminate removes the container.
func (p *Postgres) Terminate() error {
	if p == nil || p.Container == nil {
		return nil
	}
	err := p.Container.Terminate(context.Background(), testcontainers.StopTimeout(0))
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// Pool is a valid connection pool of n connections for tests.
func Pool(n int) postgres.PoolConfig {
	return postgres.PoolConfig{MaxOpenConns: n, MaxIdleConns: n, ConnMaxLifetime: time.Hour, ConnMaxIdleTime: time.Minute}
}

// Signal sends sig ("STOP", "CONT", ...) to the server process pid (a
// backend, as pg_stat_activity names it), inside the container: a STOP
// leaves its connection open and silent, as a half-open connection
// through a NAT or a load balancer would. It uses the shell's kill: a
// minimal image (debootstrap's minbase) has no kill executable.
func (p *Postgres) Signal(ctx context.Context, pid int, sig string) error {
	return p.shell(ctx, `kill -"$0" "$1"`, sig, strconv.Itoa(pid))
}

// RestartAsStandby restarts the server as a hot standby of no primary
// (standby.signal in its data directory, no primary_conninfo): it answers
// reads and refuses writes, as a standby a failover left behind, until
// promoted (SELECT pg_promote()).
func (p *Postgres) RestartAsStandby(ctx context.Context) error {
	if err := p.shell(ctx, `touch "$PGDATA/standby.signal"`); err != nil {
		return err
	}
	if err := p.Stop(ctx); err != nil {
		return err
	}
	return p.Restart(ctx)
}

// shell runs script with sh inside the container, args as $0, $1, ....
func (p *Postgres) shell(ctx context.Context, script string, args ...string) error {
	argv := append([]string{"exec", p.Container.GetContainerID(), "sh", "-c", script}, args...)
	out, err := exec.CommandContext(ctx, "docker", argv...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w: %s", script, args, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// WriteUnchecked runs the hand-written statements on db in one
// transaction, as an operator's SQL writes rows the service cannot read.
// Were the table to carry NOT VALID checks (rows written before them may
// break them), those are dropped for the statements and added back NOT
// VALID in the same transaction.
func WriteUnchecked(t testing.TB, db *sqlx.DB, statements ...string) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	var checks []struct {
		Name string `db:"conname"`
		Def  string `db:"def"`
	}
	if err := tx.SelectContext(ctx, &checks, `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
		WHERE conrelid = 'async_jobs'::regclass AND contype = 'c' AND NOT convalidated ORDER BY conname`); err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE async_jobs DROP CONSTRAINT `+c.Name); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range statements {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	for _, c := range checks {
		// pg_get_constraintdef ends a NOT VALID check with "NOT VALID".
		if _, err := tx.ExecContext(ctx, `ALTER TABLE async_jobs ADD CONSTRAINT `+c.Name+` `+c.Def); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
