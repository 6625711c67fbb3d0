package app

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// Changes tells waiting requests that a job changed, handing them the
// change itself, the job's new state included, so waiters need not read
// it. It is a projection of the change log (ports.ChangeSink), fed by the
// change feed after the read model; waiters subscribe for one job at a
// time. It bounds the number of waiters, costs nothing per waiter but a
// channel, and releases everyone at shutdown.
type Changes struct {
	mu      sync.Mutex
	max     int
	count   int
	closed  bool
	waiters map[domain.ID]map[*waiter]struct{}

	bound    time.Duration
	caughtUp atomic.Pointer[time.Time] // the feed's last heartbeat (monotonic); nil: none
	now      func() time.Time
	// behind is closed when the feed falls behind its bound, then replaced
	// (mu): waiters held while it vouched watch it instead of each looking
	// at the feed every FallbackInterval (ten thousand held requests were
	// ten thousand wake-ups a second). watch fires when the last
	// heartbeat's bound passes.
	behind chan struct{}
	watch  *time.Timer
}

type waiter struct {
	after  int64 // the version the waiter holds: older changes do not wake it
	ch     chan struct{}
	change ports.Change // set before ch is closed; zero for a wake-up without change
	// left is set, under the hub's lock, when the hub takes the waiter out
	// to wake it: its Cancel then has nothing to remove and takes no lock.
	// Ten thousand waiters woken at once would otherwise queue on that
	// lock one by one before answering (the wake-up bench's first finding).
	left atomic.Bool
}

// wakes are waiters taken out of the hub, with their changes, to be woken
// once its lock is released: closing a channel readies a goroutine, and
// doing ten thousand of those under the lock would hold up every waiter
// coming or going meanwhile.
type wakes []wakeup

type wakeup struct {
	w *waiter
	c ports.Change
}

// wake wakes each waiter with its change (no lock held).
func (ws wakes) wake() {
	for _, x := range ws {
		x.w.change = x.c
		close(x.w.ch)
	}
}

// DefaultStalenessBound is how old the feed's last read of the log's head
// may be for waiters to trust that a change would wake them, unless
// StalenessBound says otherwise.
const DefaultStalenessBound = time.Second

// ChangesOption configures Changes.
type ChangesOption func(*Changes)

// StalenessBound sets how old the feed's last read of the log's head may
// be for waiters to trust that a change would wake them; past it they
// re-read their job every FallbackInterval.
func StalenessBound(d time.Duration) ChangesOption { return func(c *Changes) { c.bound = d } }

// NewChanges returns a hub admitting at most maxWaiters at once; zero
// admits none (every request is answered at once), negative is an error,
// as is a staleness bound that is not positive. Until the feed's first
// heartbeat, waiters re-read their job at intervals.
func NewChanges(maxWaiters int, opts ...ChangesOption) (*Changes, error) {
	if maxWaiters < 0 {
		return nil, fmt.Errorf("app: max waiters must not be negative, got %d", maxWaiters)
	}
	c := &Changes{max: maxWaiters, waiters: make(map[domain.ID]map[*waiter]struct{}), bound: DefaultStalenessBound, now: time.Now,
		behind: make(chan struct{})}
	for _, o := range opts {
		o(c)
	}
	if c.bound <= 0 {
		return nil, fmt.Errorf("app: staleness bound must be positive, got %s", c.bound)
	}
	return c, nil
}

// Subscription is one waiter's interest in a job.
type Subscription struct {
	// C is closed when the job may have changed, or at shutdown.
	C <-chan struct{}
	// Behind is closed when the feed falls behind its staleness bound
	// after the subscription (or had just fallen behind): from then on no
	// wake-up can be trusted until it is live again.
	Behind <-chan struct{}

	w  *waiter
	c  *Changes
	id domain.ID
}

// Change returns the change that closed C; ok is false for a wake-up
// without one (shutdown, notifications lost or back).
func (s Subscription) Change() (c ports.Change, ok bool) {
	select {
	case <-s.w.ch:
		return s.w.change, s.w.change.ID != ""
	default:
		return ports.Change{}, false
	}
}

// Cancel ends the subscription; it must always be called. Once C is
// closed it takes no lock: the hub took the waiter out when it woke it.
func (s Subscription) Cancel() {
	if s.w.left.Load() {
		return
	}
	s.c.remove(s.id, s.w)
}

// Subscribe registers interest in changes of id after position after (the
// version the caller holds). ok is false when the hub is full or closed;
// the caller then answers at once.
func (c *Changes) Subscribe(id domain.ID, after int64) (Subscription, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.count >= c.max {
		return Subscription{}, false
	}
	w := &waiter{after: after, ch: make(chan struct{})}
	set := c.waiters[id]
	if set == nil {
		set = make(map[*waiter]struct{})
		c.waiters[id] = set
	}
	set[w] = struct{}{}
	c.count++
	return Subscription{C: w.ch, Behind: c.behind, w: w, c: c, id: id}, true
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

// Apply implements ports.ChangeSink: every waiter of a changed job is
// handed its change, if newer than the version it holds; a truncate or a
// reset wakes everyone to re-read. Woken waiters leave the hub at once;
// they are woken after its lock is released.
func (c *Changes) Apply(b ports.ChangeBatch) {
	c.mu.Lock()
	if !b.CaughtUp.IsZero() {
		at := b.CaughtUp
		c.caughtUp.Store(&at)
		c.arm(at)
	}
	var ws wakes
	if b.Reset {
		ws = c.takeAll(ws)
	}
	for i := range b.Changes {
		ch := b.Changes[i]
		if ch.Op == ports.ChangeTruncate {
			ws = c.takeAll(ws)
			continue
		}
		set := c.waiters[ch.ID]
		for w := range set {
			switch {
			case ch.Op == ports.ChangeUnreadable:
				ws = c.take(ws, set, w, ports.Change{}) // no state to hand over: the waiter reads its job
			case ch.Position > w.after:
				ws = c.take(ws, set, w, ch)
			}
		}
		if set != nil && len(set) == 0 {
			delete(c.waiters, ch.ID)
		}
	}
	c.mu.Unlock()
	ws.wake()
}

// arm sets the watch to fire when the heartbeat at passes the bound (mu
// held).
func (c *Changes) arm(at time.Time) {
	if c.closed {
		return
	}
	left := max(c.bound-c.now().Sub(at), time.Millisecond)
	if c.watch == nil {
		c.watch = time.AfterFunc(left, c.check)
		return
	}
	c.watch.Reset(left)
}

// check closes behind if the feed fell behind its bound, or sets the
// watch again for the heartbeat that came meanwhile.
func (c *Changes) check() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if at := c.caughtUp.Load(); at != nil && c.IsLive() {
		c.arm(*at)
		return
	}
	close(c.behind)
	c.behind = make(chan struct{})
}

// take takes w out of set to be woken with ch (mu held; the caller drops
// an emptied set).
func (c *Changes) take(ws wakes, set map[*waiter]struct{}, w *waiter, ch ports.Change) wakes {
	delete(set, w)
	c.count--
	w.left.Store(true)
	return append(ws, wakeup{w: w, c: ch})
}

// IsLive reports whether the feed read the log's head within the
// staleness bound, so that a change would wake its waiters in time
// (false: waiters must re-read at intervals).
func (c *Changes) IsLive() bool {
	at := c.caughtUp.Load()
	return at != nil && c.now().Sub(*at) <= c.bound
}

// takeAll takes every waiter out, to be woken without a change so each
// re-reads its job (mu held).
func (c *Changes) takeAll(ws wakes) wakes {
	for id, set := range c.waiters {
		for w := range set {
			ws = c.take(ws, set, w, ports.Change{})
		}
		delete(c.waiters, id)
	}
	return ws
}

// Close wakes every waiter and admits no more: at shutdown, held requests
// are answered with the current state.
func (c *Changes) Close() {
	c.mu.Lock()
	c.closed = true
	if c.watch != nil {
		c.watch.Stop()
	}
	ws := c.takeAll(nil)
	c.mu.Unlock()
	ws.wake()
}

// Waiting returns how many requests are waiting now.
func (c *Changes) Waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}
