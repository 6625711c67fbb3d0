package app_test

// A stream delivers every change of its client or tells it to reset: the
// cases a reviewer found where it did neither.

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestStreamReplayDoesNotSkipWhatRetentionDeletesMeanwhile: the horizon
// is checked once, when the stream opens; a replay that goes on in batches
// after that (or has not begun yet) reads "events after my position" from
// whatever retention left, and skips the ones it deleted without a Reset.
func TestStreamReplayDoesNotSkipWhatRetentionDeletesMeanwhile(t *testing.T) {
	t.Parallel()

	t.Run("BetweenOpeningAndTheFirstRead", func(t *testing.T) {
		t.Parallel()
		repo, feed := startedFeed(t)
		h, err := app.NewWatchEventsHandler(feed)
		require.NoError(t, err)
		ctx := context.Background()
		for range 5 {
			createJob(t, repo, "mis-alpha", time.Now()) // positions 1..5
		}
		s, err := h.Handle(ctx, app.WatchEvents{Principal: principal("mis-alpha"), LastEventID: "2"}) // horizon 0: a replay
		require.NoError(t, err)
		defer s.Close()
		n, err := repo.DeleteEventsBefore(ctx, time.Now().Add(time.Hour), 4) // retention's next run: 1..4
		require.NoError(t, err)
		require.Equal(t, 4, n)

		ch := next(t, s)
		require.True(t, ch.Reset || ch.Event.Position == 3,
			"events 3 and 4 are gone: the stream must reset, got event %d with no reset", ch.Event.Position)
	})

	t.Run("BetweenTwoBatchesOfTheReplay", func(t *testing.T) {
		t.Parallel()
		repo, feed := startedFeed(t) // testFeed.Batch is 2
		h, err := app.NewWatchEventsHandler(feed)
		require.NoError(t, err)
		ctx := context.Background()
		for range 6 {
			createJob(t, repo, "mis-alpha", time.Now()) // positions 1..6
		}
		s, err := h.Handle(ctx, app.WatchEvents{Principal: principal("mis-alpha"), LastEventID: "0"})
		require.NoError(t, err)
		defer s.Close()
		require.EqualValues(t, 1, next(t, s).Event.Position)
		require.EqualValues(t, 2, next(t, s).Event.Position) // the first batch, read
		n, err := repo.DeleteEventsBefore(ctx, time.Now().Add(time.Hour), 4)
		require.NoError(t, err)
		require.Equal(t, 4, n)

		ch := next(t, s)
		require.True(t, ch.Reset || ch.Event.Position == 3,
			"events 3 and 4 are gone: the stream must reset, got event %d with no reset", ch.Event.Position)
	})
}

// headlessLog is a memory store whose log's head cannot be read while
// down: this instance cannot reach the database, others still write.
type headlessLog struct {
	*memory.Jobs
	down atomic.Bool
}

func (l *headlessLog) LastPosition(ctx context.Context) (int64, error) {
	if l.down.Load() {
		return 0, errors.New("connection refused")
	}
	return l.Jobs.LastPosition(ctx)
}

// TestLiveStreamOpenedBeforeTheFeedHasAPositionGetsEveryLaterChange: a
// stream opened while the feed has not yet taken the log's head (it
// started with the database unreachable) is accepted; the feed then takes
// the head as its first position, with no reset for streams (known was
// false), so every change committed between the stream's opening and that
// moment is never delivered.
func TestLiveStreamOpenedBeforeTheFeedHasAPositionGetsEveryLaterChange(t *testing.T) {
	t.Parallel()
	log := &headlessLog{Jobs: memory.NewJobs()}
	log.down.Store(true)
	feed, err := app.NewEventFeed(log, testFeed)
	require.NoError(t, err)
	log.SetDoorbell(feed.Kick)
	require.NoError(t, feed.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, feed.Stop(context.Background())) })

	h, err := app.NewWatchEventsHandler(feed)
	require.NoError(t, err)
	s, err := h.Handle(context.Background(), app.WatchEvents{Principal: principal("mis-alpha")})
	require.NoError(t, err, "the stream is accepted while the feed has no position")
	defer s.Close()

	missed := createJob(t, log.Jobs, "mis-alpha", time.Now()) // position 1, after the stream opened
	log.down.Store(false)
	testkit.Eventually(t, 10*time.Second, func() bool { feed.Kick(); return feed.Stats().Position == 1 }, "feed took its position")
	createJob(t, log.Jobs, "mis-alpha", time.Now()) // position 2

	ch := next(t, s)
	require.True(t, ch.Reset || ch.Event.Job.ID == missed.ID,
		"job %s was created after the stream opened: it must be delivered (or the stream reset), got event %d",
		missed.ID, ch.Event.Position)
}
