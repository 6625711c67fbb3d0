package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// FeedConfig tunes the EventFeed. Every field is required; bootstrap's
// configuration holds the defaults.
type FeedConfig struct {
	// MaxStreams caps the streams held at once on this instance.
	MaxStreams int
	// MaxStreamsPerClient caps the streams one client holds at once.
	MaxStreamsPerClient int
	// Poll is how often the feed reads the log without being told of a
	// change: its heartbeat, which shows how far behind the log's head it
	// is, and the safety net for a doorbell lost or stalled.
	Poll time.Duration
	// ReadTimeout bounds one read of the log: a connection that stalls
	// without closing ends the read, and the feed reads again.
	ReadTimeout time.Duration
	// Batch is how many changes one read of the log returns at most.
	Batch int
	// Buffer is how many events a stream may lag behind before it is
	// ended (its client resumes with Last-Event-ID).
	Buffer int
}

// Validate refuses zero and negative settings and a per-client cap above
// the total.
func (c FeedConfig) Validate() error {
	var errs []error
	if c.MaxStreams <= 0 || c.MaxStreamsPerClient <= 0 || c.MaxStreamsPerClient > c.MaxStreams {
		errs = append(errs, fmt.Errorf("stream caps must be positive and per client at most the total, got %d per client, %d in total",
			c.MaxStreamsPerClient, c.MaxStreams))
	}
	if c.Poll <= 0 || c.ReadTimeout <= 0 {
		errs = append(errs, fmt.Errorf("poll interval and read timeout must be positive, got %s and %s", c.Poll, c.ReadTimeout))
	}
	if c.Batch <= 0 || c.Buffer <= 0 {
		errs = append(errs, fmt.Errorf("batch and buffer must be positive, got %d and %d", c.Batch, c.Buffer))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("app: event feed: %w", err)
	}
	return nil
}

// ErrStreamEnded is what a stream's Next returns once the feed ended it:
// the service is shutting down, the stream lagged too far behind, or the
// feed lost changes to retention. The client resumes with its last event
// id.
var ErrStreamEnded = errors.New("app: event stream ended")

// FeedLog is what the feed reads: the change log, and the stream's view
// of it for replays.
type FeedLog interface {
	ports.ChangeLog
	ports.EventLog
}

// EventFeed is the instance's one reader of the change log: a single
// goroutine reads every change after the last one it applied, in position
// order and in batches, each time it is told the log moved (Kick) and
// every Poll, and hands each batch to the projections (the read model,
// then the waiters) and each stream event to the streams of its client.
// After a failed read it resumes from the last position it applied; only
// when retention deleted changes it had not read does it reset.
type EventFeed struct {
	log   FeedLog
	cfg   FeedConfig
	sinks []ports.ChangeSink
	now   func() time.Time

	kick chan struct{}

	mu       sync.Mutex
	last     int64 // every change up to here was handed out
	known    bool  // last was read from the log
	caughtUp time.Time
	closed   bool
	total    int
	streams  map[string]map[*subscription]struct{}

	resets, failures atomic.Uint64

	loop loop
}

// subscription is one stream's mailbox.
type subscription struct {
	client string
	from   int64 // the feed hands out positions above this
	// ch carries the stream's events; nil says reset to resetTo: the
	// stream opened before the feed knew its position (the store was
	// down), so what came before resetTo cannot be vouched for.
	ch      chan *ports.JobEvent
	resetTo atomic.Int64
	done    chan struct{}
	once    sync.Once
}

func (s *subscription) end() { s.once.Do(func() { close(s.done) }) }

// NewEventFeed returns a feed over log handing its batches to sinks, in
// order, or an error for a nil log or sink or an invalid cfg.
func NewEventFeed(log FeedLog, cfg FeedConfig, sinks ...ports.ChangeSink) (*EventFeed, error) {
	if log == nil {
		return nil, missing("EventFeed", "a change log")
	}
	if slices.Contains(sinks, nil) {
		return nil, missing("EventFeed", "a projection")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &EventFeed{log: log, cfg: cfg, sinks: sinks, now: time.Now, kick: make(chan struct{}, 1),
		streams: map[string]map[*subscription]struct{}{}}
	f.loop = loop{interval: cfg.Poll, step: f.run}
	return f, nil
}

// Kick tells the feed that the log may hold new changes. It never blocks:
// kicks that arrive while the feed reads coalesce into one more read.
func (f *EventFeed) Kick() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Start takes the log's position, then runs the feed's goroutine until
// Stop. Taking it first means a stream opened from now on gets every
// later change, even one made before the loop's first read. With the
// store down the loop takes it at its first successful read.
func (f *EventFeed) Start(ctx context.Context) error {
	f.begin(ctx)
	return f.loop.start(ctx)
}

// Stop ends every stream (their clients reconnect elsewhere) and the
// feed's goroutine.
func (f *EventFeed) Stop(ctx context.Context) error {
	f.Close()
	return f.loop.stop(ctx)
}

// Close ends every stream and admits no more.
func (f *EventFeed) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	f.endStreams()
}

// resetStreams tells every stream, opened before the feed knew its
// position, to reset to pos (mu held).
func (f *EventFeed) resetStreams(pos int64) {
	for _, set := range f.streams {
		for s := range set {
			s.resetTo.Store(pos)
			select {
			case s.ch <- nil:
			default:
				s.end()
			}
		}
	}
}

// endStreams ends every stream (mu held).
func (f *EventFeed) endStreams() {
	for _, set := range f.streams {
		for s := range set {
			s.end()
		}
	}
}

// Streams returns how many streams are held now.
func (f *EventFeed) Streams() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

// FeedStats are the feed's gauges and counters.
type FeedStats struct {
	// Position is the last position applied; 0 before the first read.
	Position int64
	// Lag is how long ago the last read that reached the log's head
	// began; -1 if none did yet.
	Lag time.Duration
	// Resets counts the times changes were lost to retention.
	Resets uint64
	// Failures counts the reads of the log that failed.
	Failures uint64
}

// Stats returns the feed's figures now.
func (f *EventFeed) Stats() FeedStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	lag := time.Duration(-1)
	if !f.caughtUp.IsZero() {
		lag = f.now().Sub(f.caughtUp)
	}
	return FeedStats{Position: f.last, Lag: lag, Resets: f.resets.Load(), Failures: f.failures.Load()}
}

// run is the loop's step: read on every kick, and at least every Poll.
func (f *EventFeed) run(ctx context.Context) {
	timer := time.NewTimer(f.cfg.Poll)
	defer timer.Stop()
	for {
		f.readAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-f.kick:
		case <-timer.C:
			timer.Reset(f.cfg.Poll)
		}
	}
}

// begin takes the log's head as the feed's position, once: everything
// derived before is dropped (a Reset batch). It reports whether the
// position is known.
func (f *EventFeed) begin(ctx context.Context) bool {
	f.mu.Lock()
	known := f.known
	f.mu.Unlock()
	if known {
		return true
	}
	start := f.now()
	rctx, cancel := context.WithTimeout(ctx, f.cfg.ReadTimeout)
	defer cancel()
	pos, err := f.log.LastPosition(rctx)
	if err != nil {
		f.failures.Add(1)
		return false
	}
	f.apply(ports.ChangeBatch{Through: pos, Reset: true, CaughtUp: start})
	return true
}

// readAll applies every change after the last one applied, a batch at a
// time. A failed read is retried at the next kick or poll, from the same
// position.
//
// The first read asks for at most firstRead changes, and each full one for
// twice as many as the one before, up to Batch: the first rows of a large
// statement are applied, and their held requests answered, while the
// rest is read (a statement finishing 1 000 jobs woke no waiter until all
// 1 000 rows had arrived), and a bulk change still reads in whole batches.
func (f *EventFeed) readAll(ctx context.Context) {
	if !f.begin(ctx) {
		return
	}
	size := min(firstRead, f.cfg.Batch)
	for ctx.Err() == nil {
		b, ok := f.read(ctx, size)
		if !ok {
			f.failures.Add(1)
			return
		}
		f.apply(b)
		if b.CaughtUp.IsZero() {
			size = min(2*size, f.cfg.Batch)
			continue // a full batch: more may follow
		}
		return
	}
}

// firstRead is the most changes the first read of readAll asks for.
const firstRead = 128

// read reads the next batch of at most size changes after the feed's
// position.
func (f *EventFeed) read(ctx context.Context, size int) (ports.ChangeBatch, bool) {
	f.mu.Lock()
	last := f.last
	f.mu.Unlock()
	start := f.now()
	rctx, cancel := context.WithTimeout(ctx, f.cfg.ReadTimeout)
	defer cancel()
	changes, horizon, err := f.log.ChangesAfter(rctx, last, size)
	if err != nil {
		return ports.ChangeBatch{}, false
	}
	b := ports.ChangeBatch{Changes: changes, Through: last}
	if n := len(changes); n > 0 {
		b.Through = changes[n-1].Position
	}
	if len(changes) < size {
		b.CaughtUp = start
	}
	// Retention deletes the oldest changes: past the feed's position, it
	// may have taken changes this feed had not read yet. (Positions have
	// gaps, the versions' values: a gap says nothing, the horizon does.)
	b.Reset = horizon > last
	b.Through = max(b.Through, horizon)
	return b, true
}

// apply hands b to the projections, then its events to the streams, and
// moves the feed's position. Every stream is ended on a reset: its client
// resumes with Last-Event-ID (and is told to reset if it must).
func (f *EventFeed) apply(b ports.ChangeBatch) {
	for _, s := range f.sinks {
		s.Apply(b)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if b.Reset {
		if f.known {
			f.resets.Add(1)
			f.endStreams()
		} else {
			f.resetStreams(b.Through)
		}
		f.last, f.known = b.Through, true
	}
	for i := range b.Changes {
		c := &b.Changes[i]
		if c.Position <= f.last {
			continue
		}
		f.last = c.Position
		if !c.Event {
			continue
		}
		ev := &ports.JobEvent{Position: c.Position, ClientID: c.Job.ClientID, Status: c.Job.Status, Job: c.Job}
		for s := range f.streams[ev.ClientID] {
			select {
			case s.ch <- ev:
			default:
				s.end() // too far behind: the client resumes from its last id
			}
		}
	}
	f.last = max(f.last, b.Through)
	if !b.CaughtUp.IsZero() {
		f.caughtUp = b.CaughtUp
	}
}

// subscribe registers a stream of client's events. It refuses with a
// *domain.RateLimitedError past the per-client cap and with
// domain.ErrUnavailable past the total or while shutting down.
func (f *EventFeed) subscribe(client string) (*subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.closed:
		return nil, fmt.Errorf("event feed closed: %w", domain.ErrUnavailable)
	case len(f.streams[client]) >= f.cfg.MaxStreamsPerClient:
		return nil, &domain.RateLimitedError{ClientID: client, RetryAfter: f.cfg.Poll}
	case f.total >= f.cfg.MaxStreams:
		return nil, fmt.Errorf("event feed full: %w", domain.ErrUnavailable)
	}
	s := &subscription{client: client, from: f.last, ch: make(chan *ports.JobEvent, f.cfg.Buffer), done: make(chan struct{})}
	set := f.streams[client]
	if set == nil {
		set = map[*subscription]struct{}{}
		f.streams[client] = set
	}
	set[s] = struct{}{}
	f.total++
	return s, nil
}

func (f *EventFeed) unsubscribe(s *subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	set := f.streams[s.client]
	if _, ok := set[s]; !ok {
		return
	}
	delete(set, s)
	if len(set) == 0 {
		delete(f.streams, s.client)
	}
	f.total--
	s.end()
}
