package app_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// countingJobs counts reads of a job repository.
type countingJobs struct {
	*memory.Jobs
	reads atomic.Int64
}

func (c *countingJobs) Get(ctx context.Context, id domain.ID) (domain.Job, error) {
	c.reads.Add(1)
	return c.Jobs.Get(ctx, id)
}

func (c *countingJobs) GetAt(ctx context.Context, id domain.ID) (domain.Job, int64, error) {
	c.reads.Add(1)
	return c.Jobs.GetAt(ctx, id)
}

// waitBundle is the public use cases over a memory store whose change
// feed feeds the waiters (or nothing: then the test feeds them by hand).
type waitBundle struct {
	pub     *app.Public
	op      *app.Operator
	jobs    *countingJobs
	changes *app.Changes
}

func waitSetup(t *testing.T, publish bool, opts ...app.ChangesOption) *waitBundle {
	t.Helper()
	changes, err := app.NewChanges(10, append([]app.ChangesOption{app.StalenessBound(time.Hour)}, opts...)...)
	require.NoError(t, err)
	jobs := &countingJobs{Jobs: memory.NewJobs()}
	if publish {
		runFeed(t, jobs.Jobs, changes)
	}
	est, err := app.NewETA(testETA, jobs)
	require.NoError(t, err)
	clock := ports.ClockFunc(time.Now)
	pub, err := app.NewPublic(app.PublicDeps{Jobs: jobs, Tokens: fakeTokens{}, Clients: fakeClients{}, Limits: ports.Unlimited{},
		Clock: clock, ETA: est, Changes: changes, Polling: app.PollingConfig{MaxWait: 20 * time.Second, MaxRetryAfter: 30 * time.Second},
		Lister: jobs.Jobs, Feed: mustFeed(t, jobs.Jobs), List: app.ListConfig{DefaultPageSize: 2, MaxPageSize: 3}})
	require.NoError(t, err)
	op, err := app.NewOperator(app.OperatorDeps{Jobs: jobs, Maintenance: jobs, Reports: jobs, Clock: clock, ETA: est, Batch: 10})
	require.NoError(t, err)
	return &waitBundle{pub: pub, op: op, jobs: jobs, changes: changes}
}

// held starts a GetJobStatus with a 20 s wait and returns its answer's
// channel once it is parked.
func (b *waitBundle) held(t *testing.T, id domain.ID) <-chan app.JobStatus {
	t.Helper()
	out := make(chan app.JobStatus, 1)
	go func() {
		st, err := b.pub.GetJobStatus.Handle(context.Background(), app.GetJobStatus{Principal: reader, ID: id.String(), Wait: 20 * time.Second})
		if err != nil {
			st = app.JobStatus{}
		}
		out <- st
	}()
	testkit.Eventually(t, 10*time.Second, func() bool { return b.changes.Waiting() == 1 }, "the request is held")
	return out
}

func (b *waitBundle) complete(t *testing.T, id domain.ID) {
	t.Helper()
	_, err := b.op.CompleteJob.Handle(context.Background(), app.CompleteJob{ID: id.String(), Links: []domain.Link{{Entity: "composition", Href: "/c"}}})
	require.NoError(t, err)
}

// TestWaiterAnswersFromTheChange: a change that brings the job's new state
// answers its waiters with no read of the store.
func TestWaiterAnswersFromTheChange(t *testing.T) {
	t.Parallel()
	b := waitSetup(t, true)
	j, err := b.op.CreateJob.Handle(context.Background(), app.CreateJob{ClientID: reader.ClientID})
	require.NoError(t, err)
	answer := b.held(t, j.ID)
	b.complete(t, j.ID)
	st := <-answer
	require.Equal(t, domain.StatusDone, st.Job.Status)
	require.Equal(t, 20*time.Second, st.Waited)
	require.Equal(t, int64(2), b.jobs.reads.Load(), "the lookup and the one after subscribing: the change itself was the answer")
}

// TestWaitersPollWhileTheFeedIsBehind: with no heartbeat of the change
// feed within its bound, a held request re-reads its job every
// app.FallbackInterval instead of sleeping through the change.
func TestWaitersPollWhileTheFeedIsBehind(t *testing.T) {
	t.Parallel()
	b := waitSetup(t, false) // no feed: no change, no heartbeat
	require.False(t, b.changes.IsLive())
	j, err := b.op.CreateJob.Handle(context.Background(), app.CreateJob{ClientID: reader.ClientID})
	require.NoError(t, err)
	answer := b.held(t, j.ID)
	b.complete(t, j.ID)
	st := <-answer
	require.Equal(t, domain.StatusDone, st.Job.Status, "found by a re-read, long before the 20 s wait ended")
	require.Equal(t, 20*time.Second, st.Waited)
}

// TestAChangeRightAfterAnOlderOneIsNotMissed: a waiter woken by a change no
// newer than what it holds (a late notification of the job's creation)
// must not miss the change that follows at once, published before it had
// subscribed again: it reads the job again after subscribing.
func TestAChangeRightAfterAnOlderOneIsNotMissed(t *testing.T) {
	t.Parallel()
	b := waitSetup(t, false) // changes are handed over by hand
	b.changes.Apply(ports.ChangeBatch{CaughtUp: time.Now()})
	created, err := b.op.CreateJob.Handle(context.Background(), app.CreateJob{ClientID: reader.ClientID})
	require.NoError(t, err)
	answer := b.held(t, created.ID)
	b.complete(t, created.ID)
	done, err := b.jobs.Jobs.Get(context.Background(), created.ID)
	require.NoError(t, err)
	start := time.Now()
	put := func(j domain.Job) ports.ChangeBatch {
		return ports.ChangeBatch{Changes: []ports.Change{{Position: j.Version, Op: ports.ChangePut, ID: j.ID, Job: j}}, Through: j.Version}
	}
	b.changes.Apply(put(created)) // old: what the waiter holds
	b.changes.Apply(put(done))    // right after
	select {
	case st := <-answer:
		require.Equal(t, domain.StatusDone, st.Job.Status)
		require.Less(t, time.Since(start), 10*time.Second, "answered by the change, not by the end of the wait")
	case <-time.After(15 * time.Second):
		t.Fatal("the waiter slept through the change")
	}
}

// heldAnswer is what a held request answered.
type heldAnswer struct {
	status app.JobStatus
	err    error
}

// lateDeleteSetup is a waiters' hub whose feed vouches for it (the test
// hands it changes), a memory store and an ETA estimator over it.
func lateDeleteSetup(t *testing.T) (*app.Changes, *memory.Jobs, *app.ETA) {
	t.Helper()
	changes, err := app.NewChanges(10, app.StalenessBound(time.Hour))
	require.NoError(t, err)
	changes.Apply(ports.ChangeBatch{CaughtUp: time.Now()})
	store := memory.NewJobs()
	est, err := app.NewETA(testETA, store)
	require.NoError(t, err)
	return changes, store, est
}

// holdRequest starts a request for j held up to 20 s by a status use case
// over jobs whose waiters changes wakes, and returns once it is held.
func holdRequest(t *testing.T, jobs ports.JobRepository, est *app.ETA, changes *app.Changes, j domain.Job) <-chan heldAnswer {
	t.Helper()
	h, err := app.NewGetJobStatusHandler(jobs, ports.ClockFunc(time.Now), est, changes,
		app.PollingConfig{MaxWait: 20 * time.Second, MaxRetryAfter: 30 * time.Second})
	require.NoError(t, err)
	answer := make(chan heldAnswer, 1)
	go func() {
		got, err := h.Handle(context.Background(), app.GetJobStatus{Principal: reader, ID: j.ID.String(), Wait: 20 * time.Second})
		answer <- heldAnswer{got, err}
	}()
	testkit.Eventually(t, 10*time.Second, func() bool { return changes.Waiting() == 1 }, "the request is held")
	return answer
}

// handOverLateDelete hands the held request for j a delete of j at
// position 4 and requires that it is held again, not answered.
func handOverLateDelete(t *testing.T, changes *app.Changes, j domain.Job, answer <-chan heldAnswer) {
	t.Helper()
	changes.Apply(ports.ChangeBatch{Changes: []ports.Change{{Position: 4, Op: ports.ChangeDelete, ID: j.ID,
		Job: domain.Job{ID: j.ID, ClientID: reader.ClientID}}}, Through: 4})
	testkit.Eventually(t, 10*time.Second, func() bool { return changes.Waiting() == 1 || len(answer) == 1 },
		"the request is held again or answered")
	select {
	case a := <-answer:
		t.Fatalf("answered by a delete it must not trust: %v, %+v", a.err, a.status)
	default:
	}
}

// handOverDone hands the held request for j done at position 7 and
// requires that it answers DONE.
func handOverDone(t *testing.T, changes *app.Changes, done domain.Job, answer <-chan heldAnswer) {
	t.Helper()
	changes.Apply(ports.ChangeBatch{Changes: []ports.Change{{Position: 7, Op: ports.ChangePut, ID: done.ID, Job: done}}, Through: 7})
	select {
	case a := <-answer:
		require.NoError(t, a.err)
		require.Equal(t, domain.StatusDone, a.status.Job.Status)
	case <-time.After(15 * time.Second):
		t.Fatal("the waiter slept through the change")
	}
}

// TestWaiterComparesChangesWithThePositionItReadAt: a held request compares
// the changes it is handed with the log position its read was at, not
// with the job's version. In PostgreSQL a version is taken before its
// change's position (migration 00012), and a job deleted and created again
// can get its new version before the delete's position: that delete,
// handed over late, is older than what the waiter holds and must not
// answer 404. Here the job (version 1) is read at position 6; a delete at
// position 4 is handed over, then the job's DONE at 7.
func TestWaiterComparesChangesWithThePositionItReadAt(t *testing.T) {
	t.Parallel()
	changes, store, est := lateDeleteSetup(t)
	j := createJob(t, store, reader.ClientID, time.Now())
	for range 5 {
		createJob(t, store, "mis-beta", time.Now())
	}
	answer := holdRequest(t, store, est, changes, j)

	handOverLateDelete(t, changes, j, answer)
	done := j
	done.Status, done.Version = domain.StatusDone, 7
	done.Links = []domain.Link{{Entity: "composition", Href: "/c/1"}}
	handOverDone(t, changes, done, answer)
}

// positionlessJobs is a job repository that does not say at which log
// position it read (no ports.SnapshotReader), as a decorator that hides
// GetAt would be.
type positionlessJobs struct{ ports.JobRepository }

// TestWaiterWithoutReadPositionsTakesChangesOnlyAsCuesToRead: with a
// repository that does not say where in the log it read, a held request
// has nothing to order the changes it is handed by (a job's version is no
// position): each one only makes it read its job again. A delete handed
// over late (position 4, the job read at version 1 and still there) does
// not answer 404; the job's DONE, once stored and handed over, answers.
func TestWaiterWithoutReadPositionsTakesChangesOnlyAsCuesToRead(t *testing.T) {
	t.Parallel()
	changes, store, est := lateDeleteSetup(t)
	j := createJob(t, store, reader.ClientID, time.Now())
	answer := holdRequest(t, positionlessJobs{store}, est, changes, j)

	handOverLateDelete(t, changes, j, answer)
	finishJob(t, store, j.ID)
	done, err := store.Get(context.Background(), j.ID)
	require.NoError(t, err)
	handOverDone(t, changes, done, answer)
}
