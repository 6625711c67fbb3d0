// Package jobcache is the read model: the jobs clients poll, pending ones
// included, served from memory and kept current by the change feed, a
// projection of the store's change log (ports.ChangeSink). It decorates a
// store's ports.JobRepository and is bounded in entries and in bytes.
//
// One rule keeps it coherent: newer position wins. Every entry says up to
// which log position it reflects its job (the position of the snapshot
// it was read at, or of the change that last set it); the feed applies
// every change in position order and says up to where it has (applied).
// A store answer read at a position older than what the model knows, or
// older than an entry it dropped, is served but not kept. The invariants,
// and the tests that check each, are listed in docs/read-model.md.
package jobcache

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// Config bounds the read model.
type Config struct {
	// MaxEntries is how many jobs are kept at most; positive.
	MaxEntries int
	// MaxBytes is how much memory the kept jobs may take at most (as
	// estimated by Size); positive.
	MaxBytes int64
	// StalenessBound is how old the feed's last read of the log's head may
	// be for the model to answer from memory; past it, reads go to the
	// store until the feed catches up again. Positive.
	StalenessBound time.Duration
}

// Validate refuses bounds that are not positive.
func (c Config) Validate() error {
	var errs []error
	if c.MaxEntries <= 0 {
		errs = append(errs, fmt.Errorf("max entries must be positive, got %d", c.MaxEntries))
	}
	if c.MaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("max bytes must be positive, got %d", c.MaxBytes))
	}
	if c.StalenessBound <= 0 {
		errs = append(errs, fmt.Errorf("staleness bound must be positive, got %s", c.StalenessBound))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("jobcache: %w", err)
	}
	return nil
}

// entry is what the model knows of one job: its state at pos, or that it
// did not exist at pos (job nil).
type entry struct {
	id   domain.ID
	job  *domain.Job
	pos  int64
	size int64
	elem *list.Element
	// used says the job was read since it was kept or last spared by an
	// eviction: a hit sets it under the read lock, so polls do not
	// serialise on the list (second-chance eviction, CLOCK).
	used atomic.Bool
}

// Model holds the polled jobs and applies the change feed to them. It
// implements ports.ChangeSink. Safe for concurrent use.
type Model struct {
	cfg Config
	now func() time.Time

	mu   sync.RWMutex // read-locked by hits, write-locked by everything else
	byID map[domain.ID]*entry
	ring *list.List // the next entry to consider for eviction last
	// applied is the position up to which every change was applied; floor
	// the highest position of an entry the model dropped (an eviction, a
	// truncate, a reset): an answer read at a lower position may be older
	// than what a dropped entry answered, so it is not kept.
	applied, floor int64
	// caughtUp is when the feed's last read that reached the log's head
	// began (zero: never): every change committed before it is applied.
	caughtUp time.Time
	bytes    int64

	hits, misses, bypassed, fallbacks, resets atomic.Uint64
}

// NewModel returns an empty read model, or an error for an invalid cfg.
// It answers from memory only once the feed has caught up.
func NewModel(cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Model{cfg: cfg, now: time.Now, byID: make(map[domain.ID]*entry), ring: list.New()}, nil
}

// Size estimates the memory a cached job takes, in bytes.
func Size(j domain.Job) int64 {
	n := 320 + len(j.ID) + len(j.ClientID) + len(j.IdempotencyKey) + len(j.Status)
	for _, l := range j.Links {
		n += 48 + len(l.Entity) + len(l.Href)
	}
	if j.Failure != nil {
		n += 32 + len(j.Failure.Message)
	}
	return int64(n)
}

// absentSize is what an entry for a job that does not exist takes.
const absentSize = 160

// fresh reports whether the feed vouches for the model now (mu held).
func (m *Model) fresh() bool {
	return !m.caughtUp.IsZero() && m.now().Sub(m.caughtUp) <= m.cfg.StalenessBound
}

// Fresh reports whether the model answers from memory now: the feed read
// the log's head at most StalenessBound ago.
func (m *Model) Fresh() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.fresh()
}

// hit returns what the model knows of id, if it may answer from memory:
// the job, or found false when it did not exist, as of position at.
func (m *Model) hit(id domain.ID) (job domain.Job, found bool, at int64, ok bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.fresh() {
		return domain.Job{}, false, 0, false
	}
	e := m.byID[id]
	if e == nil {
		return domain.Job{}, false, 0, false
	}
	if !e.used.Load() { // a hot job's line is only read
		e.used.Store(true)
	}
	at = max(e.pos, m.applied)
	if e.job == nil {
		return domain.Job{}, false, at, true
	}
	return *e.job, true, at, true
}

// finished returns the finished job the model holds for id: what answers
// while the store is unavailable (a finished job changes only when it is
// purged or rewritten by hand, which needs the store too).
func (m *Model) finished(id domain.ID) (domain.Job, int64, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e := m.byID[id]
	if e == nil || e.job == nil || !e.job.Status.Terminal() {
		return domain.Job{}, 0, false
	}
	return *e.job, e.pos, true
}

// holds reports whether the model has an entry for id.
func (m *Model) holds(id domain.ID) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.byID[id] != nil
}

// observe records what the store answered for id at position at (job nil:
// not found). It is kept unless the model may know a newer state: the
// feed applied changes after at, the entry is as new, or, with no entry,
// an entry the model dropped was newer. An answer not kept is only
// served.
func (m *Model) observe(id domain.ID, job *domain.Job, at int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.byID[id]
	if at < m.applied || (e != nil && at <= e.pos) || (e == nil && at < m.floor) {
		return
	}
	m.set(id, e, job, at)
}

// set makes the entry of id (e, or a new one when nil) say job at pos,
// then makes room (mu held).
func (m *Model) set(id domain.ID, e *entry, job *domain.Job, pos int64) {
	size := int64(absentSize)
	var kept *domain.Job
	if job != nil {
		j := job.Normalize()
		kept, size = &j, Size(j)
	}
	if e == nil {
		e = &entry{id: id}
		e.elem = m.ring.PushFront(e)
		m.byID[id] = e
	}
	m.bytes += size - e.size
	e.job, e.size, e.pos = kept, size, pos
	m.evict(e)
}

// evict makes room, by second chance: the entry at the back is dropped
// unless it was read since it was kept or last spared, in which case it
// is spared once more (to the front, unmarked). keep, the entry just
// set, is never dropped, even alone over MaxBytes.
func (m *Model) evict(keep *entry) {
	for m.ring.Len() > m.cfg.MaxEntries || (m.bytes > m.cfg.MaxBytes && m.ring.Len() > 1) {
		old := m.ring.Back().Value.(*entry)
		if old == keep || old.used.Swap(false) {
			m.ring.MoveToFront(old.elem)
			continue
		}
		m.drop(old)
	}
}

// drop forgets e, raising the floor to what it knew (mu held).
func (m *Model) drop(e *entry) {
	m.ring.Remove(e.elem)
	delete(m.byID, e.id)
	m.bytes -= e.size
	m.floor = max(m.floor, e.pos)
}

// dropAll forgets every entry: no answer read before pos, or before what
// an entry knew, is kept (mu held).
func (m *Model) dropAll(pos int64) {
	for _, e := range m.byID {
		pos = max(pos, e.pos)
	}
	m.byID = make(map[domain.ID]*entry)
	m.ring.Init()
	m.bytes = 0
	m.floor = max(m.floor, pos)
	m.resets.Add(1)
}

// Apply implements ports.ChangeSink: a change newer than an entry
// replaces it; a change of a job the model does not hold is not kept
// (only polled jobs are); a truncate or a reset drops everything.
func (m *Model) Apply(b ports.ChangeBatch) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b.Reset {
		m.dropAll(b.Through)
	}
	for i := range b.Changes {
		c := &b.Changes[i]
		if c.Position <= m.applied {
			continue // applied already
		}
		switch c.Op {
		case ports.ChangeTruncate:
			m.dropAll(c.Position)
		case ports.ChangeUnreadable:
			// The job's new state is the store's to say: forget the entry;
			// no answer older than this change is kept after it.
			if e := m.byID[c.ID]; e != nil && c.Position > e.pos {
				m.drop(e)
				m.floor = max(m.floor, c.Position)
			}
		case ports.ChangePut, ports.ChangeDelete:
			e := m.byID[c.ID]
			if e == nil || c.Position <= e.pos {
				continue
			}
			var job *domain.Job
			if c.Op == ports.ChangePut {
				job = &c.Job
			}
			m.set(c.ID, e, job, c.Position)
		}
	}
	m.applied = max(m.applied, b.Through)
	if !b.CaughtUp.IsZero() && b.CaughtUp.After(m.caughtUp) {
		m.caughtUp = b.CaughtUp
	}
}

// Stats are the read model's counters.
type Stats struct {
	Hits, Misses uint64
	// Bypassed counts reads sent to the store because the feed could not
	// vouch for the model (behind its staleness bound).
	Bypassed uint64
	// Fallbacks counts finished jobs answered from memory while the store
	// was unavailable.
	Fallbacks uint64
	// Resets counts the times everything was dropped (a truncate, or the
	// feed restarting past retention).
	Resets uint64
	Len    int
	Bytes  int64
	Fresh  bool
}

// Stats returns the counters so far.
func (m *Model) Stats() Stats {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return Stats{Hits: m.hits.Load(), Misses: m.misses.Load(), Bypassed: m.bypassed.Load(),
		Fallbacks: m.fallbacks.Load(), Resets: m.resets.Load(),
		Len: m.ring.Len(), Bytes: m.bytes, Fresh: m.fresh()}
}

// Store is what the read model decorates: a job store that says at which
// log position it read.
type Store interface {
	ports.JobRepository
	ports.SnapshotReader
}

// Repository is a ports.JobRepository answering Get from a Model.
type Repository struct {
	next Store
	m    *Model
}

// New decorates next with m; both are required.
func New(next Store, m *Model) (*Repository, error) {
	if next == nil {
		return nil, errors.New("jobcache: no repository to decorate")
	}
	if m == nil {
		return nil, errors.New("jobcache: no read model")
	}
	return &Repository{next: next, m: m}, nil
}

// Get implements ports.JobRepository: from memory while the feed vouches
// for the model and it holds the job; otherwise from the store, whose
// answer the model keeps if it is the newest it has seen. With the store
// unavailable, a finished job the model holds still answers.
func (r *Repository) Get(ctx context.Context, id domain.ID) (domain.Job, error) {
	j, _, err := r.GetAt(ctx, id)
	return j, err
}

// GetAt implements ports.SnapshotReader: Get, with the position the
// answer is as of. From memory that is what the entry knows or what the
// feed applied, whichever is later (the feed applies every change of a
// job it holds); from the store, the snapshot's; a finished job answered
// during an outage is as of its entry.
func (r *Repository) GetAt(ctx context.Context, id domain.ID) (domain.Job, int64, error) {
	j, found, at, ok := r.m.hit(id)
	switch {
	case ok && found:
		r.m.hits.Add(1)
		return j, at, nil
	case ok:
		r.m.hits.Add(1)
		return domain.Job{}, at, fmt.Errorf("job %s: %w", id, domain.ErrNotFound)
	}
	if r.m.Fresh() {
		r.m.misses.Add(1)
	} else {
		r.m.bypassed.Add(1)
	}
	j, at, err := r.fromStore(ctx, id)
	if errors.Is(err, domain.ErrUnavailable) {
		if done, pos, ok := r.m.finished(id); ok {
			r.m.fallbacks.Add(1)
			return done, pos, nil
		}
	}
	return j, at, err
}

// fromStore reads id from the store, at a snapshot's position, and offers
// the answer (a job, or that there is none) to the model like any read.
func (r *Repository) fromStore(ctx context.Context, id domain.ID) (domain.Job, int64, error) {
	j, at, err := r.next.GetAt(ctx, id)
	switch {
	case err == nil:
		r.m.observe(id, &j, at)
	case errors.Is(err, domain.ErrNotFound):
		r.m.observe(id, nil, at)
	}
	return j, at, err
}

// Create implements ports.JobRepository. A job's version is taken before
// its change's position (migration 00012), so a written job says nothing
// of where it stands in the log and is not kept as written; the feed
// brings its change, at its position (a new job is in no entry yet).
func (r *Repository) Create(ctx context.Context, job domain.Job) (domain.Job, bool, error) {
	return r.next.Create(ctx, job)
}

// Finish implements ports.JobRepository. When the model holds the job
// (someone polls it here), it is read back from the store once finished,
// at a snapshot's position, and kept like any read: this instance answers
// its own write at once, not when the feed brings it.
func (r *Repository) Finish(ctx context.Context, id domain.ID, o domain.Outcome) (domain.Job, bool, error) {
	j, changed, err := r.next.Finish(ctx, id, o)
	if err == nil && changed && r.m.holds(id) {
		_, _, _ = r.fromStore(ctx, id) // only to keep; the write's answer stands
	}
	return j, changed, err
}

var (
	_ ports.JobRepository  = (*Repository)(nil)
	_ ports.SnapshotReader = (*Repository)(nil)
)
