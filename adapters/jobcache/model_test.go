package jobcache

import (
	"context"
	"errors"
	"flag"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// TestReadModelAgainstTheLog is the model-based test of the read model
// (docs/read-model.md, invariants 1 to 5): a rapid state machine runs a
// memory store (the reference: its change log is the truth), a read model
// with tiny bounds, and a feed whose batches are read, delayed, repeated,
// cut short and reset by retention, while polls race every kind of change
// (create, finish, owner change, delete, re-create of the same id,
// truncate) and store reads are begun at one step and ended at a later
// one. After every step it checks:
//
//  1. no going back: a poll answers a state of its job no older than the
//     one answered by any poll that ended before it began;
//  2. staleness: a poll answered from memory reflects every change
//     committed before the feed's last read of the head, which began at
//     most StalenessBound ago;
//  3. bounded: never more entries than MaxEntries;
//  4. only polled jobs are kept.
func TestReadModelAgainstTheLog(t *testing.T) {
	t.Parallel()
	// Long runs find the interleavings that matter: unless the command
	// line says otherwise, 1 000 runs of 300 steps.
	for name, v := range map[string]string{"rapid.checks": "1000", "rapid.steps": "300"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() == f.DefValue {
			_ = f.Value.Set(v)
		}
	}
	rapid.Check(t, func(rt *rapid.T) {
		sm := newMachine(rt)
		rt.Repeat(sm.actions())
	})
}

// pendingRead is a store read begun but not ended yet.
type pendingRead struct {
	id    domain.ID
	job   *domain.Job
	at    int64
	floor int // the newest state any poll ended with when this one began
}

// pendingBatch is a feed read not applied yet.
type pendingBatch struct {
	batch ports.ChangeBatch
}

type machine struct {
	store  *memory.Jobs
	model  *Model
	now    time.Time
	ids    []domain.ID
	polled map[domain.ID]bool
	// ended is, per job, the newest state (an index into its history) any
	// poll ended with.
	ended map[domain.ID]int
	reads []pendingRead
	// batches are the feed's reads, applied in order; fed is the position
	// the next read starts after.
	batches []pendingBatch
	fed     int64
	// heads records the log's head at each step's time: what "committed
	// before t" means for invariant 2.
	heads []headAt
}

type headAt struct {
	at   time.Time
	head int64
}

const testBound = 10 * time.Second

func newMachine(rt *rapid.T) *machine {
	cfg := Config{
		MaxEntries:     rapid.IntRange(1, 4).Draw(rt, "maxEntries"),
		MaxBytes:       rapid.Int64Range(600, 4000).Draw(rt, "maxBytes"),
		StalenessBound: testBound,
	}
	m, err := NewModel(cfg)
	if err != nil {
		rt.Fatal(err)
	}
	sm := &machine{store: memory.NewJobs(), model: m, now: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC),
		polled: map[domain.ID]bool{}, ended: map[domain.ID]int{}}
	m.now = func() time.Time { return sm.now }
	for range rapid.IntRange(1, 4).Draw(rt, "jobs") {
		sm.ids = append(sm.ids, domain.NewID())
	}
	sm.recordHead()
	// The feed begins at the head, as app.EventFeed does.
	m.Apply(ports.ChangeBatch{Through: 0, Reset: true, CaughtUp: sm.now})
	return sm
}

func (sm *machine) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"Create": func(rt *rapid.T) {
			id := rapid.SampledFrom(sm.ids).Draw(rt, "id")
			j, err := domain.New(domain.NewParams{ID: id, ClientID: "a", ETA: sm.now, Now: sm.now})
			if err != nil {
				rt.Fatal(err)
			}
			_, _, _ = sm.store.Create(context.Background(), j) // ErrAlreadyExists is fine
			sm.recordHead()
		},
		"Finish": func(rt *rapid.T) {
			id := rapid.SampledFrom(sm.ids).Draw(rt, "id")
			o, _ := domain.Failed(500, "x", sm.now)
			_, _, _ = sm.store.Finish(context.Background(), id, o)
			sm.recordHead()
		},
		"ChangeOwner": func(rt *rapid.T) {
			id := rapid.SampledFrom(sm.ids).Draw(rt, "id")
			if j, err := sm.store.Get(context.Background(), id); err == nil {
				j.ClientID = rapid.SampledFrom([]string{"a", "b"}).Draw(rt, "owner")
				sm.store.Put(j)
			}
			sm.recordHead()
		},
		"Delete": func(rt *rapid.T) {
			sm.store.Delete(rapid.SampledFrom(sm.ids).Draw(rt, "id"))
			sm.recordHead()
		},
		"Truncate": func(rt *rapid.T) {
			if rapid.IntRange(0, 9).Draw(rt, "rare") == 0 {
				sm.store.Truncate()
				sm.recordHead()
			}
		},
		"Tick": func(rt *rapid.T) {
			sm.now = sm.now.Add(time.Duration(rapid.IntRange(1, 6).Draw(rt, "seconds")) * time.Second)
			sm.recordHead()
		},
		"FeedRead": func(rt *rapid.T) {
			limit := rapid.IntRange(1, 4).Draw(rt, "limit")
			changes, _, err := sm.store.ChangesAfter(context.Background(), sm.fed, limit)
			if err != nil {
				rt.Fatal(err)
			}
			b := ports.ChangeBatch{Changes: changes, Through: sm.fed}
			if n := len(changes); n > 0 {
				b.Through = changes[n-1].Position
			}
			if len(changes) < limit {
				b.CaughtUp = sm.now
			}
			sm.fed = b.Through
			sm.batches = append(sm.batches, pendingBatch{b})
		},
		"FeedApply": func(rt *rapid.T) {
			if len(sm.batches) == 0 {
				rt.Skip("no batch read")
			}
			b := sm.batches[0]
			sm.batches = sm.batches[1:]
			sm.model.Apply(b.batch)
			if rapid.Bool().Draw(rt, "repeat") {
				sm.model.Apply(b.batch) // a batch delivered twice changes nothing
			}
		},
		"FeedResetPastRetention": func(rt *rapid.T) {
			// Retention deleted changes the feed had not read: it drops
			// what it read and goes on from the head.
			head, _ := sm.store.LastPosition(context.Background())
			sm.batches = nil
			sm.fed = head
			sm.model.Apply(ports.ChangeBatch{Through: head, Reset: true, CaughtUp: sm.now})
		},
		"Poll": func(rt *rapid.T) {
			id := rapid.SampledFrom(sm.ids).Draw(rt, "id")
			sm.polled[id] = true
			floor := sm.ended[id]
			if job, found, at, ok := sm.model.hit(id); ok {
				// The answer is the log's state of the job as of the
				// position the hit says (what waiters compare changes with).
				st := sm.stateOfAnswer(rt, id, found, job, at)
				rt.Logf("hit %s found=%v pos=%d at=%d state=%d applied=%d floor=%d", id, found, sm.entryPos(id), at, st, sm.model.applied, sm.model.floor)
				sm.checkFresh(rt, id, st)
				sm.end(rt, id, st, floor)
				return
			}
			sm.reads = append(sm.reads, sm.begin(id, floor))
			sm.finishRead(rt, len(sm.reads)-1)
		},
		"BeginRead": func(rt *rapid.T) {
			id := rapid.SampledFrom(sm.ids).Draw(rt, "id")
			sm.polled[id] = true
			sm.reads = append(sm.reads, sm.begin(id, sm.ended[id]))
		},
		"EndRead": func(rt *rapid.T) {
			if len(sm.reads) == 0 {
				rt.Skip("no read under way")
			}
			sm.finishRead(rt, rapid.IntRange(0, len(sm.reads)-1).Draw(rt, "read"))
		},
		"": func(rt *rapid.T) {
			if n := sm.model.ring.Len(); n > sm.model.cfg.MaxEntries {
				rt.Fatalf("invariant 3: %d entries, at most %d", n, sm.model.cfg.MaxEntries)
			}
			for id := range sm.model.byID {
				if !sm.polled[id] {
					rt.Fatalf("invariant 4: job %s kept though never polled", id)
				}
			}
		},
	}
}

// begin starts a store read of id.
func (sm *machine) begin(id domain.ID, floor int) pendingRead {
	j, at, err := sm.store.GetAt(context.Background(), id)
	r := pendingRead{id: id, at: at, floor: floor}
	if err == nil {
		r.job = &j
	} else if !errors.Is(err, domain.ErrNotFound) {
		panic(err)
	}
	return r
}

// finishRead ends read i: the model observes it, its caller is answered.
func (sm *machine) finishRead(rt *rapid.T, i int) {
	r := sm.reads[i]
	sm.reads = append(sm.reads[:i], sm.reads[i+1:]...)
	sm.model.observe(r.id, r.job, r.at)
	rt.Logf("read %s found=%v at=%d state=%d floorWhenBegun=%d applied=%d modelfloor=%d kept=%v", r.id, r.job != nil, r.at, sm.stateAt(r.id, r.at), r.floor, sm.model.applied, sm.model.floor, sm.model.byID[r.id] != nil && sm.model.byID[r.id].pos == r.at)
	var job domain.Job
	if r.job != nil {
		job = *r.job
	}
	sm.end(rt, r.id, sm.stateOfAnswer(rt, r.id, r.job != nil, job, r.at), r.floor)
}

// end checks invariant 1 for a poll of id that began when floor was the
// newest state ended, and records its answer st.
func (sm *machine) end(rt *rapid.T, id domain.ID, st, floor int) {
	if st < floor {
		rt.Fatalf("invariant 1: job %s answered state %d after a poll that ended before it began answered %d", id, st, floor)
	}
	sm.ended[id] = max(sm.ended[id], st)
}

// checkFresh checks invariant 2 for an answer from memory in state st.
func (sm *machine) checkFresh(rt *rapid.T, id domain.ID, st int) {
	var head int64
	for _, h := range sm.heads {
		if h.at.Before(sm.now.Add(-testBound)) {
			head = h.head
		}
	}
	if want := sm.stateAt(id, head); st < want {
		rt.Fatalf("invariant 2: job %s answered from memory state %d, older than state %d committed over %s ago", id, st, want, testBound)
	}
}

// entryPos is the position the model's entry of id reflects.
func (sm *machine) entryPos(id domain.ID) int64 {
	return max(sm.model.byID[id].pos, 0)
}

// stateOfAnswer is the index, in id's history, of the state that an
// answer says as of position at; it fails if the answer is not that
// state (a wrong state, not only an older one).
func (sm *machine) stateOfAnswer(rt *rapid.T, id domain.ID, found bool, job domain.Job, at int64) int {
	st := sm.stateAt(id, at)
	truth, exists := sm.truthAt(id, at)
	switch {
	case found != exists:
		rt.Fatalf("job %s at %d: answered found=%v, the log says %v", id, at, found, exists)
	case found && job.Version != truth.Version:
		rt.Fatalf("job %s at %d: answered version %d, the log says %d", id, at, job.Version, truth.Version)
	}
	return st
}

// stateAt is the number of changes of id up to at that a poll can tell
// apart (a put, a delete, a truncate while the job existed): the index of
// its state then in its history.
func (sm *machine) stateAt(id domain.ID, at int64) int {
	changes, _, _ := sm.store.ChangesAfter(context.Background(), 0, 1<<30)
	n, exists := 0, false
	for _, c := range changes {
		if c.Position > at {
			break
		}
		switch {
		case c.Op == ports.ChangeTruncate:
			if exists {
				n++
			}
			exists = false
		case c.ID == id:
			n++
			exists = c.Op == ports.ChangePut
		}
	}
	return n
}

// truthAt is id's job as of position at, by the log.
func (sm *machine) truthAt(id domain.ID, at int64) (domain.Job, bool) {
	changes, _, _ := sm.store.ChangesAfter(context.Background(), 0, 1<<30)
	var job domain.Job
	exists := false
	for _, c := range changes {
		if c.Position > at {
			break
		}
		switch {
		case c.Op == ports.ChangeTruncate, c.ID == id && c.Op == ports.ChangeDelete:
			exists = false
		case c.ID == id:
			job, exists = c.Job, true
		}
	}
	return job, exists
}

func (sm *machine) recordHead() {
	head, _ := sm.store.LastPosition(context.Background())
	sm.heads = append(sm.heads, headAt{at: sm.now, head: head})
}
