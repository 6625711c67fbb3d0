package app

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// WatchEvents opens a stream of the principal's job changes.
type WatchEvents struct {
	Principal domain.Principal
	// LastEventID is the position the client saw last, as it sent it
	// (Last-Event-ID); empty for live changes only.
	LastEventID string
}

// Change is one item of a stream: a job's change, or Reset when changes
// after the client's last position are no longer retained, or when that
// position was never handed out (the client re-lists its jobs; the stream
// goes on with live changes, from Event.Position).
type Change struct {
	Reset bool
	// Unknown says why a Reset came: the client's last position is ahead
	// of the log, so no event ever had it.
	Unknown bool
	Event   ports.JobEvent
}

// WatchEventsHandler answers WatchEvents.
type WatchEventsHandler struct {
	feed *EventFeed
}

// NewWatchEventsHandler returns a WatchEventsHandler, or an error for a nil feed.
func NewWatchEventsHandler(feed *EventFeed) (WatchEventsHandler, error) {
	if feed == nil {
		return WatchEventsHandler{}, missing("WatchEventsHandler", "an event feed")
	}
	return WatchEventsHandler{feed: feed}, nil
}

// Handle checks scope and the last event id, then registers the stream
// (bounded per client and in total). The caller must Close the stream.
func (h WatchEventsHandler) Handle(ctx context.Context, q WatchEvents) (*EventStream, error) {
	if h.feed == nil {
		return nil, errUnwired
	}
	if err := q.Principal.Require(domain.ScopeCompositionRead); err != nil {
		return nil, err
	}
	var (
		after  int64
		resume = q.LastEventID != ""
	)
	if resume {
		n, err := strconv.ParseInt(q.LastEventID, 10, 64)
		digits := strings.TrimLeft(q.LastEventID, "0123456789") == ""
		switch {
		case digits && errors.Is(err, strconv.ErrRange):
			n = math.MaxInt64 // too large to represent: ahead of the log, reset below
		case err != nil || !digits:
			return nil, &domain.ValidationError{Field: "Last-Event-ID", Reason: "must be an event id this service sent"}
		}
		after = n
	}
	sub, err := h.feed.subscribe(q.Principal.ClientID)
	if err != nil {
		return nil, err
	}
	s := &EventStream{feed: h.feed, sub: sub, last: sub.from}
	if resume {
		horizon, err := h.feed.log.Horizon(ctx)
		if err != nil {
			h.feed.unsubscribe(sub)
			return nil, err
		}
		var newest int64
		if after > sub.from { // the feed has not seen it: is it in the log at all?
			if newest, err = h.feed.log.LastPosition(ctx); err != nil {
				h.feed.unsubscribe(sub)
				return nil, err
			}
		}
		switch {
		case after < horizon:
			s.reset = true // from here on: live changes
		case after > sub.from && after > newest:
			// Never handed out: resuming after it would hide every change
			// up to it, so the stream resets and goes on from the newest
			// position, reading the log first so that no change is missed.
			s.reset, s.unknown, s.last, s.replay = true, true, newest, true
		default:
			s.last, s.replay = after, true
		}
	}
	return s, nil
}

// EventStream is one client's stream: the retained changes after its last
// position, then live ones, each exactly once and in position order.
type EventStream struct {
	feed   *EventFeed
	sub    *subscription
	last   int64
	replay bool // still reading retained changes from the log
	reset  bool // a Reset is due first
	// unknown says the Reset is for a position no event ever had.
	unknown bool
	buf     []ports.JobEvent
}

// Next returns the next change, waiting for one until ctx ends (then
// ctx.Err()). ErrStreamEnded means the feed ended the stream.
func (s *EventStream) Next(ctx context.Context) (Change, error) {
	if s.reset {
		s.reset = false
		return Change{Reset: true, Unknown: s.unknown, Event: ports.JobEvent{Position: s.last}}, nil
	}
	for s.replay && len(s.buf) == 0 {
		events, err := s.feed.log.EventsAfter(ctx, s.sub.client, s.last, s.feed.cfg.Batch)
		if err != nil {
			return Change{}, err
		}
		// Retention may have deleted events this replay had not read yet,
		// since the stream opened or between two of its batches: then it
		// resets, and goes on with live changes.
		horizon, err := s.feed.log.Horizon(ctx)
		if err != nil {
			return Change{}, err
		}
		if horizon > s.last {
			s.replay, s.buf, s.last = false, nil, s.sub.from
			return Change{Reset: true, Event: ports.JobEvent{Position: s.last}}, nil
		}
		if len(events) == 0 {
			s.replay = false
		}
		s.buf = events
	}
	if len(s.buf) > 0 {
		ev := s.buf[0]
		s.buf = s.buf[1:]
		s.last = ev.Position
		return Change{Event: ev}, nil
	}
	for {
		select {
		case ev := <-s.sub.ch:
			if ev == nil { // opened before the feed knew its position
				s.last = s.sub.resetTo.Load()
				return Change{Reset: true, Event: ports.JobEvent{Position: s.last}}, nil
			}
			if ev.Position <= s.last {
				continue // already sent while replaying
			}
			s.last = ev.Position
			return Change{Event: *ev}, nil
		case <-s.sub.done:
			return Change{}, ErrStreamEnded
		case <-ctx.Done():
			return Change{}, ctx.Err()
		}
	}
}

// Close releases the stream's place.
func (s *EventStream) Close() { s.feed.unsubscribe(s.sub) }
