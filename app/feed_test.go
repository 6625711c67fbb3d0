package app_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// recordingSink records the batches a feed hands it.
type recordingSink struct {
	mu      sync.Mutex
	batches []ports.ChangeBatch
}

func (r *recordingSink) Apply(b ports.ChangeBatch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, b)
}

// positions are the positions of every change handed over, and whether a
// reset came.
func (r *recordingSink) positions() (ps []int64, reset int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, b := range r.batches {
		if b.Reset && i > 0 {
			reset++
		}
		for _, c := range b.Changes {
			ps = append(ps, c.Position)
		}
	}
	return ps, reset
}

// flakyLog fails reads of the change log while down.
type flakyLog struct {
	*memory.Jobs
	down     atomic.Bool
	horizons atomic.Int64 // Horizon's calls

	mu     sync.Mutex
	limits []int // of the reads that were answered
}

func (f *flakyLog) ChangesAfter(ctx context.Context, after int64, limit int) ([]ports.Change, int64, error) {
	if f.down.Load() {
		return nil, 0, errors.New("connection reset")
	}
	f.mu.Lock()
	f.limits = append(f.limits, limit)
	f.mu.Unlock()
	return f.Jobs.ChangesAfter(ctx, after, limit)
}

func (f *flakyLog) Horizon(ctx context.Context) (int64, error) {
	f.horizons.Add(1)
	return f.Jobs.Horizon(ctx)
}

type feedBundle struct {
	log  *flakyLog
	sink *recordingSink
	feed *app.EventFeed
}

func feedSetup(t *testing.T) *feedBundle {
	t.Helper()
	return feedSetupBatch(t, 2)
}

// feedSetupBatch is feedSetup with reads of at most batch changes.
func feedSetupBatch(t *testing.T, batch int) *feedBundle {
	t.Helper()
	b := &feedBundle{log: &flakyLog{Jobs: memory.NewJobs()}, sink: &recordingSink{}}
	createJob(t, b.log.Jobs, "mis-alpha", time.Now()) // before the feed: not handed over
	var err error
	b.feed, err = app.NewEventFeed(b.log, app.FeedConfig{MaxStreams: 3, MaxStreamsPerClient: 2, Poll: 10 * time.Millisecond,
		ReadTimeout: time.Second, Batch: batch, Buffer: 8}, b.sink)
	require.NoError(t, err)
	b.log.SetDoorbell(b.feed.Kick)
	require.NoError(t, b.feed.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, b.feed.Stop(context.Background())) })
	return b
}

func (b *feedBundle) waitFor(t *testing.T, n int) []int64 {
	t.Helper()
	var ps []int64
	testkit.Eventually(t, 10*time.Second, func() bool { ps, _ = b.sink.positions(); return len(ps) >= n }, "changes handed over")
	return ps
}

func TestEventFeed(t *testing.T) {
	t.Parallel()

	t.Run("StartsAtTheHeadWithAResetThatVouches", func(t *testing.T) {
		t.Parallel()
		b := feedSetup(t)
		b.sink.mu.Lock()
		first := b.sink.batches[0]
		b.sink.mu.Unlock()
		require.True(t, first.Reset)
		require.EqualValues(t, 1, first.Through)
		require.False(t, first.CaughtUp.IsZero())
	})

	t.Run("ReadsTheHorizonWithTheChanges", func(t *testing.T) {
		// One read a batch: the horizon comes with the changes (positions
		// have gaps, so a gap cannot tell the feed to ask for it).
		t.Parallel()
		b := feedSetup(t)
		for range 5 {
			finishJob(t, b.log.Jobs, createJob(t, b.log.Jobs, "mis-alpha", time.Now()).ID)
		}
		b.waitFor(t, 10)
		require.Zero(t, b.log.horizons.Load())
	})

	t.Run("HandsOverEveryChangeInOrderInBoundedBatches", func(t *testing.T) {
		t.Parallel()
		b := feedSetup(t)
		for range 5 {
			finishJob(t, b.log.Jobs, createJob(t, b.log.Jobs, "mis-alpha", time.Now()).ID)
		}
		require.Equal(t, []int64{2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, b.waitFor(t, 10))
		b.sink.mu.Lock()
		defer b.sink.mu.Unlock()
		for _, batch := range b.sink.batches {
			require.LessOrEqual(t, len(batch.Changes), 2)
			if len(batch.Changes) == 2 {
				require.True(t, batch.CaughtUp.IsZero(), "a full batch does not say it reached the head")
			}
		}
	})

	t.Run("ReadsALargeChangeInGrowingBatches", func(t *testing.T) {
		t.Parallel()
		b := feedSetupBatch(t, 1000)
		b.log.down.Store(true) // 1 500 changes wait to be read
		for range 1500 {
			createJob(t, b.log.Jobs, "mis-alpha", time.Now())
		}
		b.log.mu.Lock()
		before := len(b.log.limits)
		b.log.mu.Unlock()
		b.log.down.Store(false)
		ps := b.waitFor(t, 1500)
		require.Len(t, ps, 1500, "every change once")
		b.log.mu.Lock()
		asked := b.log.limits[before:]
		b.log.mu.Unlock()
		// The first rows are handed over after a short read; reads double
		// up to the batch while they come back full.
		require.Equal(t, []int{128, 256, 512, 1000}, asked[:4], "896 read, then the remaining 604")
		b.sink.mu.Lock()
		defer b.sink.mu.Unlock()
		for _, batch := range b.sink.batches {
			if len(batch.Changes) > 0 {
				require.Len(t, batch.Changes, 128, "the first batch after the backlog")
				break
			}
		}
	})

	t.Run("ResumesFromItsPositionAfterFailedReads", func(t *testing.T) {
		t.Parallel()
		b := feedSetup(t)
		b.log.down.Store(true)
		for range 3 {
			createJob(t, b.log.Jobs, "mis-alpha", time.Now())
		}
		testkit.Eventually(t, 10*time.Second, func() bool { return b.feed.Stats().Failures > 0 }, "a read failed")
		b.log.down.Store(false)
		require.Equal(t, []int64{2, 3, 4}, b.waitFor(t, 3), "nothing dropped, nothing twice")
		_, resets := b.sink.positions()
		require.Zero(t, resets)
	})

	t.Run("ResetsAndEndsStreamsWhenRetentionPassedItsPosition", func(t *testing.T) {
		t.Parallel()
		b := feedSetup(t)
		h, err := app.NewWatchEventsHandler(b.feed)
		require.NoError(t, err)
		s, err := h.Handle(context.Background(), app.WatchEvents{Principal: principal("mis-alpha")})
		require.NoError(t, err)
		defer s.Close()
		b.log.down.Store(true) // the feed falls behind...
		for range 3 {
			createJob(t, b.log.Jobs, "mis-alpha", time.Now())
		}
		n, err := b.log.DeleteEventsBefore(context.Background(), time.Now().Add(time.Hour), 100) // ...and retention passes it
		require.NoError(t, err)
		require.Equal(t, 4, n)
		b.log.down.Store(false)
		testkit.Eventually(t, 10*time.Second, func() bool { _, r := b.sink.positions(); return r == 1 }, "a reset")
		require.EqualValues(t, 1, b.feed.Stats().Resets)
		require.EqualValues(t, 4, b.feed.Stats().Position)
		_, err = s.Next(context.Background())
		require.ErrorIs(t, err, app.ErrStreamEnded, "the client resumes with Last-Event-ID")
	})

	t.Run("HeartbeatsWithoutChanges", func(t *testing.T) {
		t.Parallel()
		b := feedSetup(t)
		testkit.Eventually(t, 10*time.Second, func() bool {
			b.sink.mu.Lock()
			defer b.sink.mu.Unlock()
			return len(b.sink.batches) >= 3
		}, "heartbeats")
		require.GreaterOrEqual(t, b.feed.Stats().Lag, time.Duration(0))
	})
}

func TestEventFeedRefusesMissingParts(t *testing.T) {
	t.Parallel()
	_, err := app.NewEventFeed(nil, testFeed)
	require.Error(t, err)
	_, err = app.NewEventFeed(memory.NewJobs(), testFeed, nil)
	require.Error(t, err)
	bad := testFeed
	bad.ReadTimeout = 0
	_, err = app.NewEventFeed(memory.NewJobs(), bad)
	require.Error(t, err)
}
