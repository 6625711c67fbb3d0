// Package jobcache is the read model: every job a client polls, pending
// ones included, served from memory and kept coherent with the store by the
// store's versioned change notifications (ports.JobChanges). It decorates
// any ports.JobRepository and is bounded in entries and in bytes.
//
// Coherence rests on versions: every stored state of a job has a version
// that only grows. A change replaces an older cached state, never a newer
// one; a delete or a change whose new state did not come along leaves a
// tombstone (the id and the least version acceptable from then on), so a
// read that started before the change cannot put the older state back.
// Entries pushed out by the bounds become tombstones too, and tombstones are
// bounded as well: what dropped ones knew is summed up per bucket of ids,
// so a read that started before a tombstone of its bucket was dropped is
// served but not kept, and a change older than one of them is not kept
// either (nor one older than what the model knew before it last forgot
// everything). A store answer the model cannot keep (not found, or
// a fill it refuses) still leaves a tombstone, so that no older read fills
// or is joined while the answer's notification is on its way. When
// notifications may have been missed (Live(false)), everything is dropped
// and reads go to the store until the notification channel is back
// (Live(true)), which drops everything again.
package jobcache

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/singleflight"

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
	// Live says whether changes arrive from the start (the memory store
	// publishes them itself); false waits for Live(true) from the
	// notification listener and reads through until then.
	Live bool
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
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("jobcache: %w", err)
	}
	return nil
}

// entry is one cached job, or a tombstone when job is nil.
type entry struct {
	id   domain.ID
	job  *domain.Job
	size int64
	// floor is the least version a read may bring into the cache: the
	// cached job's version plus one, or a tombstone's limit.
	floor int64
	elem  *list.Element // in Model.jobs or Model.tombs
	// seq is Model.seq when the entry was made: every change of a job
	// replaces its entry, so reads that see the same seq saw the same
	// state of the job.
	seq uint64
	// used says the job was read since it was added or last spared by an
	// eviction: a hit sets it under the read lock, so polls do not
	// serialise on the list (second-chance eviction, CLOCK).
	used atomic.Bool
}

// Model holds the cached jobs and applies the store's changes to them. It
// implements ports.JobChanges. Safe for concurrent use.
type Model struct {
	cfg Config

	mu   sync.RWMutex // read-locked by hits, write-locked by everything else
	live bool
	gen  uint64 // bumped when everything is dropped
	// drops count the tombstones dropped so far and dropFloors keep the
	// highest floor among them, per bucket of ids (bucket): a read of a job
	// with no entry, or a change of one, is judged against its bucket only,
	// so that tombstones dropped for other jobs (a stream of polls of ids
	// that do not exist) do not refuse every fill.
	drops      [dropBuckets]uint64
	dropFloors [dropBuckets]int64
	seed       maphash.Seed
	// seen is the highest version the model has kept or known of a job;
	// rowFloor is the least version whose notified row is kept, raised to
	// seen whenever the model forgets everything (Live) and by every
	// answer read through while not live: a notification still on its way
	// then may be older than what a poll was answered.
	seen, rowFloor atomic.Int64
	seq            uint64 // entries made so far
	byID           map[domain.ID]*entry
	jobs           *list.List // cached jobs, the next to consider for eviction last
	tombs          *list.List // tombstones, newest first
	bytes          int64
	// fallback holds the finished jobs cached when notifications went
	// down, answered only while the store is unavailable; nil when live.
	fallback map[domain.ID]domain.Job

	hits, misses, bypassed atomic.Uint64
}

// NewModel returns an empty read model, or an error for an invalid cfg.
func NewModel(cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Model{cfg: cfg, live: cfg.Live, byID: make(map[domain.ID]*entry), jobs: list.New(), tombs: list.New(),
		seed: maphash.MakeSeed()}, nil
}

// maxTombs bounds tombstones: as many as entries, at least 1 024 (a
// tombstone is an id and a number).
func (m *Model) maxTombs() int { return max(m.cfg.MaxEntries, 1024) }

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

// readState is what a read of one job from the store must know of the
// model when it starts: its fill is refused unless the model can still
// vouch for it (fill), and reads that start in the same state share one
// store read (Repository.Get).
type readState struct {
	gen     uint64 // Model.gen
	dropped uint64 // Model.drops of the job's bucket
	seq     uint64 // the id's entry's seq; 0 when it has none
	live    bool
}

// key names the state of the read of id: reads of the same key saw the
// same entry for id (or none, with no tombstone dropped since), so none of
// them can have been served a newer state than another one's read brings.
func (s readState) key(id domain.ID) string {
	return fmt.Sprintf("%s/%d/%d/%d", id, s.gen, s.dropped, s.seq)
}

// lookup returns the cached job, marked as used, or the state a read of it
// from the store starts in.
func (m *Model) lookup(id domain.ID) (job domain.Job, ok bool, st readState) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e := m.byID[id]
	if e != nil && e.job != nil {
		if !e.used.Load() { // a hot job's line is only read
			e.used.Store(true)
		}
		return *e.job, true, readState{}
	}
	return domain.Job{}, false, m.stateOf(id, e)
}

// state returns the state a read of id starts in, whether cached or not,
// without marking it used (for writes).
func (m *Model) state(id domain.ID) readState {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.stateOf(id, m.byID[id])
}

// stateOf returns the state of a read of id, whose entry is e (mu held; e
// may be nil).
func (m *Model) stateOf(id domain.ID, e *entry) readState {
	st := readState{gen: m.gen, live: m.live}
	if e != nil {
		st.seq = e.seq
	} else {
		st.dropped = m.drops[m.bucket(id)]
	}
	return st
}

// fill keeps job, read from the store by a read that began in state st,
// unless the model cannot vouch for it: notifications were lost since the
// read began (gen), the model learned anything of the job meanwhile (its
// entry is not the one the read saw: a change, an eviction, another
// read's answer), a change newer than it is known (floor), or a tombstone
// that could have said so was dropped meanwhile.
func (m *Model) fill(job domain.Job, st readState) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.live || st.gen != m.gen {
		return false
	}
	e := m.byID[job.ID]
	switch {
	case e != nil && (e.seq != st.seq || job.Version < e.floor):
		return false
	case e == nil && (st.seq != 0 || st.dropped != m.drops[m.bucket(job.ID)]):
		return false
	}
	m.put(job)
	return true
}

// answered records what the store answered to a read that did not fill
// the model (job, or nil for not found): whatever the model keeps of the
// job gives way to a tombstone no older than the answer, so that neither a
// read that began before this one can fill (its entry is gone) or be
// joined (its key changed), nor an older cached state be served after it,
// in the time the change's notification takes to arrive.
func (m *Model) answered(id domain.ID, job *domain.Job) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.live {
		m.fallback = nil // the store answers: see readThrough
		return
	}
	e := m.byID[id]
	var floor int64
	switch {
	case e != nil && e.job != nil:
		if job != nil && e.job.Version >= job.Version {
			return // the model knows as much already
		}
		floor = e.job.Version // a read after this one may bring it back
	case e != nil:
		floor = e.floor
	}
	if job != nil {
		floor = max(floor, job.Version)
		raise(&m.seen, job.Version)
	}
	m.remove(e)
	m.tombstone(id, floor)
}

// put caches job (mu held), replacing whatever was kept for its id. Room
// is made first, by second chance: the job at the back is evicted unless it
// was read since it was added or last spared, in which case it is spared
// once more (to the front, unmarked). A job is always kept, even alone
// over MaxBytes.
func (m *Model) put(job domain.Job) {
	m.remove(m.byID[job.ID])
	j := job.Normalize()
	e := &entry{id: j.ID, job: &j, size: Size(j), floor: j.Version + 1}
	for m.jobs.Len() > 0 && (m.jobs.Len() >= m.cfg.MaxEntries || m.bytes+e.size > m.cfg.MaxBytes) {
		old := m.jobs.Back().Value.(*entry)
		if old.used.Swap(false) {
			m.jobs.MoveToFront(old.elem)
			continue
		}
		// A read older than it must not come back; one of its own version
		// may (it is what the model last knew of the job).
		m.remove(old)
		m.tombstone(old.id, old.job.Version)
	}
	m.seq++
	e.seq = m.seq
	raise(&m.seen, j.Version)
	e.elem = m.jobs.PushFront(e)
	m.byID[j.ID] = e
	m.bytes += e.size
}

// tombstone replaces whatever is kept for id by a tombstone refusing
// versions below floor (mu held).
func (m *Model) tombstone(id domain.ID, floor int64) {
	if e := m.byID[id]; e != nil {
		floor = max(floor, e.floor)
		m.remove(e)
	}
	m.seq++
	e := &entry{id: id, floor: floor, seq: m.seq}
	e.elem = m.tombs.PushFront(e)
	m.byID[id] = e
	for m.tombs.Len() > m.maxTombs() {
		old := m.tombs.Back().Value.(*entry)
		m.remove(old)
		b := m.bucket(old.id)
		m.drops[b]++
		m.dropFloors[b] = max(m.dropFloors[b], old.floor)
	}
}

// raise sets a to v if v is higher.
func raise(a *atomic.Int64, v int64) {
	for cur := a.Load(); v > cur && !a.CompareAndSwap(cur, v); cur = a.Load() {
	}
}

// dropBuckets is how many buckets of ids the dropped tombstones are
// summed up in.
const dropBuckets = 4096

// bucket returns the bucket of id.
func (m *Model) bucket(id domain.ID) int {
	return int(maphash.String(m.seed, string(id)) % dropBuckets)
}

// remove forgets e (mu held); nil is ignored.
func (m *Model) remove(e *entry) {
	if e == nil {
		return
	}
	if e.job != nil {
		m.jobs.Remove(e.elem)
		m.bytes -= e.size
	} else {
		m.tombs.Remove(e.elem)
	}
	delete(m.byID, e.id)
}

// Changed implements ports.JobChanges: a newer state replaces the cached
// one, an older or repeated one is ignored; a delete, or a change that did
// not bring its state, leaves a tombstone.
func (m *Model) Changed(c ports.JobChange) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.live {
		return // everything is read through until Live(true)
	}
	e := m.byID[c.ID]
	if e != nil && c.Version < e.floor {
		return // this change or a newer one is known
	}
	// A change older than a tombstone dropped in its bucket, or than what
	// the model forgot (rowFloor), may be older than a state a poll was
	// answered (a late notification): its row is not kept, the next read
	// brings the job.
	stale := c.Version < max(m.dropFloors[m.bucket(c.ID)], m.rowFloor.Load())
	raise(&m.seen, c.Version)
	switch {
	case c.Deleted:
		m.tombstone(c.ID, c.Version+1) // re-created, it gets a later version
	case c.Job != nil && c.Job.ID == c.ID && c.Job.Version == c.Version && !stale:
		m.put(*c.Job)
	default:
		m.tombstone(c.ID, c.Version) // the next read brings it
	}
}

// Live implements ports.JobChanges: either way, what was cached can no
// longer be vouched for and is dropped; while not live every read goes to
// the store. Going down, finished jobs are kept aside, never to answer
// while the store answers: only when it is unavailable (a finished job
// changes only by being purged, which needs the store too).
func (m *Model) Live(live bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	raise(&m.rowFloor, m.seen.Load())
	var fallback map[domain.ID]domain.Job
	if !live && m.live {
		fallback = make(map[domain.ID]domain.Job)
		for el := m.jobs.Front(); el != nil; el = el.Next() {
			if e := el.Value.(*entry); e.job.Status.Terminal() {
				fallback[e.id] = *e.job
			}
		}
	} else if !live {
		fallback = m.fallback
	}
	m.live = live
	m.gen++
	m.byID = make(map[domain.ID]*entry)
	m.jobs.Init()
	m.tombs.Init()
	m.bytes = 0
	m.fallback = fallback
}

// finished returns the finished job kept aside for id while not live.
func (m *Model) finished(id domain.ID) (domain.Job, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	j, ok := m.fallback[id]
	return j, ok
}

// readThrough records that the store answered a read while notifications
// were down (found: job, with ok): no notification older than the job is
// kept as a row any more, and the finished jobs kept aside are dropped, as
// the store may have purged one of them unannounced; from now on only the
// store answers until notifications are back.
func (m *Model) readThrough(job domain.Job, found bool) {
	if found {
		raise(&m.rowFloor, job.Version)
	}
	m.mu.RLock()
	kept := m.fallback != nil
	m.mu.RUnlock()
	if !kept {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.live {
		m.fallback = nil
	}
}

// Stats are the read model's counters.
type Stats struct {
	Hits, Misses uint64
	// Bypassed counts reads sent to the store because the model could not
	// vouch for anything (notifications down).
	Bypassed uint64
	Len      int
	Bytes    int64
	Live     bool
}

// Stats returns the counters so far.
func (m *Model) Stats() Stats {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return Stats{Hits: m.hits.Load(), Misses: m.misses.Load(), Bypassed: m.bypassed.Load(),
		Len: m.jobs.Len(), Bytes: m.bytes, Live: m.live}
}

// Repository is a ports.JobRepository answering Get from a Model; a miss
// reads the store once however many callers ask for the job at once.
type Repository struct {
	next       ports.JobRepository
	m          *Model
	flights    singleflight.Group
	beforeFill func(domain.Job) // tests: runs between a read and its fill
}

// Option configures a Repository.
type Option func(*Repository)

// BeforeFill runs fn after a read from the store and before its result is
// offered to the model: tests use it to race a change against a read.
func BeforeFill(fn func(domain.Job)) Option {
	return func(r *Repository) { r.beforeFill = fn }
}

// New decorates next with m; both are required.
func New(next ports.JobRepository, m *Model, opts ...Option) (*Repository, error) {
	if next == nil {
		return nil, errors.New("jobcache: no repository to decorate")
	}
	if m == nil {
		return nil, errors.New("jobcache: no read model")
	}
	r := &Repository{next: next, m: m}
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

// Get implements ports.JobRepository. Concurrent misses for the same job
// in the same state of the model (readState.key) share one read of the
// store; a caller that comes after any change of the job (or after the
// model dropped what it knew of it) does not join an older read.
func (r *Repository) Get(ctx context.Context, id domain.ID) (domain.Job, error) {
	j, ok, st := r.m.lookup(id)
	if ok {
		r.m.hits.Add(1)
		return j, nil
	}
	if !st.live {
		r.m.bypassed.Add(1)
		j, err := r.next.Get(ctx, id)
		switch {
		case errors.Is(err, domain.ErrUnavailable):
			if done, ok := r.m.finished(id); ok {
				return done, nil // the store was away since the notifications went
			}
		case err == nil || errors.Is(err, domain.ErrNotFound):
			r.m.readThrough(j, err == nil)
		}
		return j, err
	}
	r.m.misses.Add(1)
	v, err, _ := r.flights.Do(st.key(id), func() (any, error) {
		// Not the first caller's cancellation: others share this read.
		j, err := r.next.Get(context.WithoutCancel(ctx), id)
		if errors.Is(err, domain.ErrNotFound) {
			r.m.answered(id, nil)
		}
		if err != nil {
			return domain.Job{}, err
		}
		if r.beforeFill != nil {
			r.beforeFill(j)
		}
		r.keep(j, st)
		return j, nil
	})
	if err != nil {
		return domain.Job{}, err
	}
	return v.(domain.Job).Normalize(), nil
}

// keep offers j, as the store answered it to an operation that began in
// state st, to the model; what the model cannot keep it still records.
func (r *Repository) keep(j domain.Job, st readState) {
	if !r.m.fill(j, st) {
		r.m.answered(j.ID, &j)
	}
}

// Create implements ports.JobRepository; the new job is offered to the model.
func (r *Repository) Create(ctx context.Context, job domain.Job) (domain.Job, bool, error) {
	st := r.m.state(job.ID)
	j, created, err := r.next.Create(ctx, job)
	if err == nil {
		r.keep(j, st)
	}
	return j, created, err
}

// Finish implements ports.JobRepository; the job is offered to the model.
func (r *Repository) Finish(ctx context.Context, id domain.ID, o domain.Outcome) (domain.Job, bool, error) {
	st := r.m.state(id)
	j, changed, err := r.next.Finish(ctx, id, o)
	if err == nil {
		r.keep(j, st)
	}
	return j, changed, err
}
