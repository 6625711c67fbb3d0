package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	// change: the safety net for a notification lost while reconnecting.
	Poll time.Duration
	// Batch is how many events one read of the log returns at most.
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
	if c.Poll <= 0 {
		errs = append(errs, fmt.Errorf("poll interval must be positive, got %s", c.Poll))
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
// the service is shutting down, or the stream lagged too far behind. The
// client resumes with its last event id.
var ErrStreamEnded = errors.New("app: event stream ended")

// EventFeed is one instance's reader of the event log: a single goroutine
// reads every position after the last it saw, each time it is told of a
// change (Kick) and every Poll, and hands each event to the streams of
// that event's client only.
type EventFeed struct {
	log ports.EventLog
	cfg FeedConfig

	kick chan struct{}

	mu      sync.Mutex
	last    int64 // every event up to here was handed out
	known   bool  // last was read from the log
	closed  bool
	total   int
	streams map[string]map[*subscription]struct{}

	loop loop
}

// subscription is one stream's mailbox.
type subscription struct {
	client string
	from   int64 // the feed hands out positions above this
	ch     chan *ports.JobEvent
	done   chan struct{}
	once   sync.Once
}

func (s *subscription) end() { s.once.Do(func() { close(s.done) }) }

// NewEventFeed returns a feed over log, or an error for a nil log or an
// invalid cfg.
func NewEventFeed(log ports.EventLog, cfg FeedConfig) (*EventFeed, error) {
	if log == nil {
		return nil, missing("EventFeed", "an event log")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &EventFeed{log: log, cfg: cfg, kick: make(chan struct{}, 1), streams: map[string]map[*subscription]struct{}{}}
	f.loop = loop{interval: cfg.Poll, step: f.run}
	return f, nil
}

// Kick tells the feed that the log may hold new events. It never blocks:
// kicks that arrive while the feed reads coalesce into one more read.
func (f *EventFeed) Kick() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Start runs the feed's goroutine until Stop.
func (f *EventFeed) Start(ctx context.Context) error {
	// Take the log's position before the first stream can subscribe: a
	// stream opened from now on gets every later change, even one made
	// before the loop's first read (which would otherwise take the newest
	// position, that change included, as its start). With the store down
	// the loop takes it at its first successful read.
	if pos, err := f.log.LastPosition(ctx); err == nil {
		f.mu.Lock()
		if !f.known {
			f.last, f.known = pos, true
		}
		f.mu.Unlock()
	}
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

// readAll hands out every event after the last one handed out. A failed
// read is retried at the next kick or poll.
func (f *EventFeed) readAll(ctx context.Context) {
	f.mu.Lock()
	last, known := f.last, f.known
	f.mu.Unlock()
	if !known {
		pos, err := f.log.LastPosition(ctx)
		if err != nil {
			return
		}
		f.mu.Lock()
		f.last, f.known, last = pos, true, pos
		f.mu.Unlock()
	}
	for ctx.Err() == nil {
		events, err := f.log.EventsAfter(ctx, "", last, f.cfg.Batch)
		if err != nil || len(events) == 0 {
			return
		}
		f.deliver(events)
		last = events[len(events)-1].Position
		if len(events) < f.cfg.Batch {
			return
		}
	}
}

// deliver hands events to their clients' streams and moves last, in one
// critical section, so that a stream subscribing concurrently either gets
// an event here or starts after it.
func (f *EventFeed) deliver(events []ports.JobEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range events {
		ev := &events[i]
		if ev.Position <= f.last {
			continue
		}
		for s := range f.streams[ev.ClientID] {
			select {
			case s.ch <- ev:
			default:
				s.end() // too far behind: the client resumes from its last id
			}
		}
		f.last = ev.Position
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
