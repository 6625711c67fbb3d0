package app

import (
	"fmt"
	"sync"

	"github.com/jobstatus/jobstatus/domain"
)

// Changes tells waiting requests that a job changed. Stores publish to it
// (the memory store directly, PostgreSQL through LISTEN/NOTIFY); waiters
// subscribe for one job at a time. It bounds the number of waiters, costs
// nothing per waiter but a channel, and releases everyone at shutdown.
type Changes struct {
	mu      sync.Mutex
	max     int
	count   int
	closed  bool
	waiters map[domain.ID]map[*waiter]struct{}
}

type waiter struct {
	ch   chan struct{}
	once sync.Once
}

func (w *waiter) wake() { w.once.Do(func() { close(w.ch) }) }

// NewChanges returns a hub admitting at most maxWaiters at once; zero
// admits none (every request is answered at once), negative is an error.
func NewChanges(maxWaiters int) (*Changes, error) {
	if maxWaiters < 0 {
		return nil, fmt.Errorf("app: max waiters must not be negative, got %d", maxWaiters)
	}
	return &Changes{max: maxWaiters, waiters: make(map[domain.ID]map[*waiter]struct{})}, nil
}

// Subscribe registers interest in id. The channel is closed when the job may
// have changed, or at shutdown. ok is false when the hub is full or closed;
// the caller then answers at once. cancel must always be called.
func (c *Changes) Subscribe(id domain.ID) (ch <-chan struct{}, cancel func(), ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.count >= c.max {
		return nil, func() {}, false
	}
	w := &waiter{ch: make(chan struct{})}
	set := c.waiters[id]
	if set == nil {
		set = make(map[*waiter]struct{})
		c.waiters[id] = set
	}
	set[w] = struct{}{}
	c.count++
	return w.ch, func() { c.remove(id, w) }, true
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

// Publish wakes everyone waiting for id.
func (c *Changes) Publish(id domain.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for w := range c.waiters[id] {
		w.wake()
	}
}

// PublishAll wakes every waiter: used when notifications may have been
// missed (a reconnected listener), so each re-reads its job.
func (c *Changes) PublishAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, set := range c.waiters {
		for w := range set {
			w.wake()
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
