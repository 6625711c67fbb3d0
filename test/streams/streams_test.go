// Package streams checks the change stream and the listing end to end over
// PostgreSQL with two service instances, each with its own pool, event
// feed and LISTEN connection, as two processes would have: workers write
// through one instance's write API and through the jobs command, MIS
// clients watch and page through the other.
package streams

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/client"
	"github.com/jobstatus/jobstatus/cmd/jobstatus/cli"
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

// instance is one service instance: the public and the write API.
type instance struct {
	public, internal *httptest.Server
	feed             *app.EventFeed
}

// newInstance wires an instance over the database at url. Its feed reads
// the log only when PostgreSQL notifies it (the poll is an hour), so the
// test shows that notifications cross instances.
func newInstance(t *testing.T, url string, kit *testkit.Kit) *instance {
	t.Helper()
	db, err := postgres.Open(url, pgtest.Pool(8))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	jobs, err := postgres.NewJobs(db, 5*time.Second)
	require.NoError(t, err)
	a := testkit.NewUseCases(t, jobs, kit.Verifier(t), kit.Clients(t), nil, nil)
	feed, err := app.NewEventFeed(jobs, app.FeedConfig{MaxStreams: 100, MaxStreamsPerClient: 10, Poll: time.Hour,
		ReadTimeout: 5 * time.Second, Batch: 100, Buffer: 1000})
	require.NoError(t, err)
	a.Public.WatchEvents, err = app.NewWatchEventsHandler(feed)
	require.NoError(t, err)
	ln, err := postgres.ListenLog(url, feed.Kick, zap.NewNop())
	require.NoError(t, err)
	require.NoError(t, feed.Start(context.Background()))
	t.Cleanup(func() {
		_ = ln.Close(context.Background())
		_ = feed.Stop(context.Background())
	})
	internal, err := httpapi.NewInternalHandler(a.Operator, kit.Verifier(t), zap.NewNop(),
		httpapi.InternalConfig{Writers: []string{"worker-sign"}, MaxBodyBytes: 4096}, httpapi.NopObserver{})
	require.NoError(t, err)
	in := &instance{
		public:   httptest.NewServer(httpapi.NewHandler(a.Public, zap.NewNop(), httpapi.DefaultHandlerConfig(), httpapi.NopObserver{})),
		internal: httptest.NewServer(internal),
		feed:     feed,
	}
	t.Cleanup(in.public.Close)
	t.Cleanup(in.internal.Close)
	return in
}

func worker(t *testing.T, kit *testkit.Kit, in *instance) *client.Client {
	t.Helper()
	c := testkit.Claims("worker-sign")
	c["scope"] = domain.ScopeCompositionJobWrite
	w, err := client.New(in.internal.URL, client.WithToken(kit.Sign(kit.Header(), c)))
	require.NoError(t, err)
	return w
}

func mis(t *testing.T, kit *testkit.Kit, in *instance, id, key string) *client.Client {
	t.Helper()
	c, err := client.New(in.public.URL, client.WithToken(kit.Token(id)), client.WithAPIKey(key),
		client.WithBackoff(10*time.Millisecond, 100*time.Millisecond))
	require.NoError(t, err)
	return c
}

// jobsCommand runs `jobstatus jobs ...` against the database, in-process.
func jobsCommand(t *testing.T, url string, args ...string) string {
	t.Helper()
	var out, errs bytes.Buffer
	code := cli.Execute(context.Background(), append([]string{"jobs"}, args...),
		cli.IO{Stdout: &out, Stderr: &errs, Environ: []string{"JOBSTATUS_DATABASE_URL=" + url}})
	require.Equal(t, 0, code, errs.String())
	return out.String()
}

func TestWatchAcrossInstances(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	url := pg.Schema(t)
	kit := testkit.New(t)
	a, b := newInstance(t, url, kit), newInstance(t, url, kit)
	ctx := context.Background()
	sign := worker(t, kit, b)

	w := testkit.Watch(mis(t, kit, a, testkit.ClientA, testkit.KeyA), "0")
	defer w.Stop()
	// Another client's jobs, through both paths, before and between ours.
	_, _, err := sign.Create(ctx, client.CreateParams{ClientID: testkit.ClientB})
	require.NoError(t, err)
	viaAPI, _, err := sign.Create(ctx, client.CreateParams{ClientID: testkit.ClientA, ETA: time.Minute})
	require.NoError(t, err)
	viaCmd := jobsCommand(t, url, "create", "--client", testkit.ClientA, "--id", "11111111-2222-4333-8444-555555555555")
	require.Contains(t, viaCmd, "PENDING")
	jobsCommand(t, url, "create", "--client", testkit.ClientB)
	_, err = sign.Complete(ctx, viaAPI.ID, client.Link{Entity: "composition", Href: "/c/1"})
	require.NoError(t, err)
	jobsCommand(t, url, "fail", "11111111-2222-4333-8444-555555555555", "--code", "422", "--message", "Signature is not valid")

	w.WaitFor(t, 4)
	// Now live on A (its poll is an hour): only B's notification through
	// PostgreSQL can bring the next one.
	live, _, err := sign.Create(ctx, client.CreateParams{ClientID: testkit.ClientA})
	require.NoError(t, err)
	w.WaitFor(t, 5)
	got := w.Changes()
	require.Equal(t, live.ID, got[4].Job.ID)
	type seen struct{ id, event string }
	var order []seen
	for _, ch := range got {
		order = append(order, seen{ch.Job.ID, ch.Event})
	}
	require.Equal(t, []seen{
		{viaAPI.ID, "PENDING"},
		{"11111111-2222-4333-8444-555555555555", "PENDING"},
		{viaAPI.ID, "DONE"},
		{"11111111-2222-4333-8444-555555555555", "FAILED"},
	}, order[:4], "in the order they happened, and only mis-alpha's")
	require.Len(t, got, 5, "nothing of mis-beta's")
	for i := 1; i < len(got); i++ {
		require.Less(t, position(t, got[i-1].ID), position(t, got[i].ID))
	}
}

func position(t *testing.T, id string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(id, 10, 64)
	require.NoError(t, err)
	return n
}

// TestResumeOnTheOtherInstance: a client that disconnects from A while 100
// changes happen, then reconnects to B with its last id, receives exactly
// those 100, in order.
func TestResumeOnTheOtherInstance(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	url := pg.Schema(t)
	kit := testkit.New(t)
	a, b := newInstance(t, url, kit), newInstance(t, url, kit)
	ctx := context.Background()
	sign := worker(t, kit, b)

	w := testkit.Watch(mis(t, kit, a, testkit.ClientA, testkit.KeyA), "0")
	first, _, err := sign.Create(ctx, client.CreateParams{ClientID: testkit.ClientA})
	require.NoError(t, err)
	w.WaitFor(t, 1)
	before := w.Stop()
	require.Equal(t, first.ID, before[0].Job.ID)
	last := before[len(before)-1].ID

	// 100 changes of mis-alpha's jobs (50 created, 50 completed) while
	// disconnected, with mis-beta's in between.
	var want []string
	for i := range 50 {
		j, _, err := sign.Create(ctx, client.CreateParams{ClientID: testkit.ClientA})
		require.NoError(t, err)
		want = append(want, j.ID+"/PENDING")
		_, _, err = sign.Create(ctx, client.CreateParams{ClientID: testkit.ClientB})
		require.NoError(t, err)
		_, err = sign.Complete(ctx, j.ID, client.Link{Entity: "composition", Href: "/c/" + strconv.Itoa(i)})
		require.NoError(t, err)
		want = append(want, j.ID+"/DONE")
	}

	again := testkit.Watch(mis(t, kit, b, testkit.ClientA, testkit.KeyA), last)
	again.WaitFor(t, 100)
	// One more change after them: it is the 101st, so nothing was repeated.
	marker, _, err := sign.Create(ctx, client.CreateParams{ClientID: testkit.ClientA})
	require.NoError(t, err)
	again.WaitFor(t, 101)
	got := again.Stop()
	var order []string
	for _, ch := range got[:100] {
		order = append(order, ch.Job.ID+"/"+ch.Event)
	}
	require.Equal(t, want, order)
	require.Equal(t, marker.ID, got[100].Job.ID)
	require.Len(t, got, 101)
}

// TestListThroughInstanceWhileInserting: paging through 10 000 jobs on A
// while a worker creates more on B returns each pre-existing job once.
func TestListThroughInstanceWhileInserting(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	url := pg.Schema(t)
	kit := testkit.New(t)
	a, b := newInstance(t, url, kit), newInstance(t, url, kit)
	db, err := postgres.Open(url, pgtest.Pool(1))
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	_, err = db.ExecContext(ctx, `INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
		SELECT gen_random_uuid(), $1, 'PENDING', now(), t, t
		FROM generate_series(1, 10000) i, LATERAL (SELECT now() - (i % 2000) * interval '1 second' AS t) c`, testkit.ClientA)
	require.NoError(t, err)
	var ids []string
	require.NoError(t, db.SelectContext(ctx, &ids, `SELECT id::text FROM async_jobs`))

	sign := worker(t, kit, b)
	stop := make(chan struct{})
	inserted := make(chan int)
	go func() {
		n := 0
		defer func() { inserted <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := sign.Create(ctx, client.CreateParams{ClientID: testkit.ClientA}); err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()
	seen := map[string]int{}
	for j, err := range mis(t, kit, a, testkit.ClientA, testkit.KeyA).ListAll(ctx, client.ListFilter{PageSize: 500}) {
		require.NoError(t, err)
		seen[j.ID]++
	}
	close(stop)
	require.Positive(t, <-inserted)
	for _, id := range ids {
		require.Equal(t, 1, seen[id], "job %s", id)
	}
}

// TestReplayAfterPurgeAndOwnerChange: Last-Event-ID 0 replays every
// retained change, as each left the job, after the jobs were purged and
// after a job changed owner in SQL; a change belongs to the client that
// owned the job when it happened.
func TestReplayAfterPurgeAndOwnerChange(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	url := pg.Schema(t)
	kit := testkit.New(t)
	a, b := newInstance(t, url, kit), newInstance(t, url, kit)
	ctx := context.Background()
	sign := worker(t, kit, b)

	done, _, err := sign.Create(ctx, client.CreateParams{ClientID: testkit.ClientA})
	require.NoError(t, err)
	failed, _, err := sign.Create(ctx, client.CreateParams{ClientID: testkit.ClientA})
	require.NoError(t, err)
	given, _, err := sign.Create(ctx, client.CreateParams{ClientID: testkit.ClientA})
	require.NoError(t, err)
	_, err = sign.Complete(ctx, done.ID, client.Link{Entity: "composition", Href: "/patients/p/encounter/e/composition/c"})
	require.NoError(t, err)
	jobsCommand(t, url, "fail", failed.ID, "--code", "422", "--message", "Signature is not valid")
	jobsCommand(t, url, "purge", "--older-than", "1ms")
	db, err := postgres.Open(url, pgtest.Pool(1))
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(ctx, `UPDATE async_jobs SET client_id = $1 WHERE id = $2`, testkit.ClientB, given.ID)
	require.NoError(t, err)
	for _, c := range []string{testkit.ClientA, testkit.ClientB} { // marks the end of each replay
		_, _, err = sign.Create(ctx, client.CreateParams{ClientID: c})
		require.NoError(t, err)
	}

	type seen struct {
		id, event, links, code string
	}
	replay := func(in *instance, id, key string, n int) []seen {
		w := testkit.Watch(mis(t, kit, in, id, key), "0")
		defer w.Stop() // also when waitFor fails: a stream left open holds the server's Close
		w.WaitFor(t, n)
		var out []seen
		for _, ch := range w.Stop() {
			s := seen{id: ch.Job.ID, event: ch.Event}
			require.Equal(t, ch.Event, string(ch.Job.Status))
			for _, l := range ch.Job.Links {
				s.links += l.Href
			}
			if ch.Job.Error != nil {
				s.code = strconv.Itoa(ch.Job.Error.Code)
			}
			out = append(out, s)
		}
		return out
	}
	gotA := replay(a, testkit.ClientA, testkit.KeyA, 6)
	require.Equal(t, []seen{
		{done.ID, "PENDING", "", ""},
		{failed.ID, "PENDING", "", ""},
		{given.ID, "PENDING", "", ""},
		{done.ID, "DONE", "/patients/p/encounter/e/composition/c", ""},
		{failed.ID, "FAILED", "", "422"},
	}, gotA[:5], "every retained change, purged or given away since, as it was")
	require.Len(t, gotA, 6, "then the marker, and nothing twice")
	gotB := replay(b, testkit.ClientB, testkit.KeyB, 1)
	require.Len(t, gotB, 1, "only the marker: the creation of the job given to mis-beta was mis-alpha's")
	require.NotEqual(t, given.ID, gotB[0].id)
}
