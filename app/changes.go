package app

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// Changes tells waiting requests that a job changed, handing them the
// change itself (often with the new state, so waiters need not read it).
// Stores publish to it (the memory store directly, PostgreSQL through
// LISTEN/NOTIFY); waiters subscribe for one job at a time. It bounds the
// number of waiters, costs nothing per waiter but a channel, and releases
// everyone at shutdown. It implements ports.JobChanges.
type Changes struct {
	mu      sync.Mutex
	max     int
	count   int
	closed  bool
	waiters map[domain.ID]map[*waiter]struct{}
	live    atomic.Bool
}

type waiter struct {
	ch     chan struct{}
	once   sync.Once
	change ports.JobChange // set before ch is closed; zero for a wake-up without change
}

func (w *waiter) wake(c ports.JobChange) {
	w.once.Do(func() {
		w.change = c
		close(w.ch)
	})
}

// NewChanges returns a hub admitting at most maxWaiters at once; zero
// admits none (every request is answered at once), negative is an error.
// It starts live (changes arrive); a store whose changes come through a
// listener says otherwise with Live(false) until the listener listens.
func NewChanges(maxWaiters int) (*Changes, error) {
	if maxWaiters < 0 {
		return nil, fmt.Errorf("app: max waiters must not be negative, got %d", maxWaiters)
	}
	c := &Changes{max: maxWaiters, waiters: make(map[domain.ID]map[*waiter]struct{})}
	c.live.Store(true)
	return c, nil
}

// Subscription is one waiter's interest in a job.
type Subscription struct {
	// C is closed when the job may have changed, or at shutdown.
	C  <-chan struct{}
	w  *waiter
	c  *Changes
	id domain.ID
}

// Change returns the change that closed C; ok is false for a wake-up
// without one (shutdown, notifications lost or back).
func (s Subscription) Change() (c ports.JobChange, ok bool) {
	select {
	case <-s.w.ch:
		return s.w.change, s.w.change.ID != ""
	default:
		return ports.JobChange{}, false
	}
}

// Cancel ends the subscription; it must always be called.
func (s Subscription) Cancel() { s.c.remove(s.id, s.w) }

// Subscribe registers interest in id. ok is false when the hub is full or
// closed; the caller then answers at once.
func (c *Changes) Subscribe(id domain.ID) (Subscription, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.count >= c.max {
		return Subscription{}, false
	}
	w := &waiter{ch: make(chan struct{})}
	set := c.waiters[id]
	if set == nil {
		set = make(map[*waiter]struct{})
		c.waiters[id] = set
	}
	set[w] = struct{}{}
	c.count++
	return Subscription{C: w.ch, w: w, c: c, id: id}, true
}

func (c *Changes) remove(id domain.ID, w *waiter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set := c.waiters[id]
	if _, ok := set[w]; !ok {
		return
	}
	delete(set, w)
	if len(set) == 0 {
		delete(c.waiters, id)
	}
	c.count--
}

// Publish hands ch to everyone waiting for its job.
func (c *Changes) Publish(ch ports.JobChange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for w := range c.waiters[ch.ID] {
		w.wake(ch)
	}
}

// Changed implements ports.JobChanges.
func (c *Changes) Changed(ch ports.JobChange) { c.Publish(ch) }

// Live implements ports.JobChanges: while changes may be missed, waiters
// re-read their job at intervals instead of trusting a wake-up; either
// way every waiter is woken to re-read now.
func (c *Changes) Live(live bool) {
	c.live.Store(live)
	c.PublishAll()
}

// IsLive reports whether changes arrive (false: waiters must poll).
func (c *Changes) IsLive() bool { return c.live.Load() }

// PublishAll wakes every waiter without a change: used when notifications
// may have been missed, so each re-reads its job.
func (c *Changes) PublishAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, set := range c.waiters {
		for w := range set {
			w.wake(ports.JobChange{})
		}
	}
}

// Close wakes every waiter and admits no more: at shutdown, held requests
// are answered with the current state.
func (c *Changes) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.PublishAll()
}

// Waiting returns how many requests are waiting now.
func (c *Changes) Waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}
