// Package e2e runs the client against the real handlers over PostgreSQL:
// a worker creates and finishes a job on the write API while an MIS waits
// for it on the public API.
package e2e_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/client"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

var pg *pgtest.Postgres

func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m, func(p *pgtest.Postgres) int {
		pg = p
		return m.Run()
	}))
}

const href = "/patients/p1/encounter/e1/composition/c1"

func TestWorkerCreatesMISWaitsWorkerCompletes(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	url := pg.Schema(t)
	db, err := postgres.Open(url, pgtest.Pool(10))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	jobs, err := postgres.NewJobs(db, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = jobs.Close() })

	changes, err := app.NewChanges(100)
	require.NoError(t, err)

	kit := testkit.New(t)
	verifier := kit.Verifier(t)
	clients := kit.Clients(t)
	a := testkit.NewUseCases(t, jobs, verifier, clients, nil, changes)
	internal, err := httpapi.NewInternalHandler(
		a.Operator,
		verifier, zap.NewNop(), httpapi.InternalConfig{Writers: []string{"worker-sign", "worker-refine"}, MaxBodyBytes: 4096}, httpapi.NopObserver{})
	require.NoError(t, err)
	internalSrv := httptest.NewServer(internal)
	t.Cleanup(internalSrv.Close)
	held := make(chan struct{}, 1)
	public := httpapi.NewHandler(a.Public, zap.NewNop(), httpapi.DefaultHandlerConfig(), httpapi.NopObserver{})
	publicSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Prefer"), "wait=") {
			select {
			case held <- struct{}{}:
			default:
			}
		}
		public.ServeHTTP(w, r)
	}))
	t.Cleanup(publicSrv.Close)

	worker := func(name string) *client.Client {
		c := testkit.Claims(name)
		c["scope"] = domain.ScopeCompositionJobWrite
		w, err := client.New(internalSrv.URL, client.WithToken(kit.Sign(kit.Header(), c)))
		require.NoError(t, err)
		return w
	}
	ctx := context.Background()
	sign, refine := worker("worker-sign"), worker("worker-refine")

	// The use cases' change feed took the log's head when it started, so
	// the waiter below cannot miss its own change.
	job, created, err := sign.Create(ctx, client.CreateParams{ClientID: testkit.ClientA, ETA: time.Minute, IdempotencyKey: "sign-4711"})
	require.NoError(t, err)
	require.True(t, created)
	again, created, err := sign.Create(ctx, client.CreateParams{ClientID: testkit.ClientA, IdempotencyKey: "sign-4711"})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, job.ID, again.ID)

	mis, err := client.New(publicSrv.URL, client.WithToken(kit.Token(testkit.ClientA)), client.WithAPIKey(testkit.KeyA))
	require.NoError(t, err)
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	type result struct {
		job client.Job
		err error
	}
	waited := make(chan result, 1)
	go func() {
		j, err := mis.Wait(waitCtx, job.ID)
		waited <- result{j, err}
	}()
	<-held
	_, err = sign.Complete(ctx, job.ID, client.Link{Entity: "composition", Href: href})
	require.NoError(t, err)
	got := <-waited
	require.NoError(t, got.err)
	require.Equal(t, client.StatusDone, got.job.Status)
	require.Equal(t, []client.Link{{Entity: "composition", Href: href}}, got.job.Links)

	_, err = refine.Fail(ctx, job.ID, 500, "too late")
	require.ErrorIs(t, err, client.ErrConflict)
	var e *client.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, 409, e.Status)
	stored, err := refine.GetAny(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, got.job, stored)
}
