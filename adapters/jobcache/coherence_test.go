package jobcache_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/jobcache"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// versionedStore is a store whose every change is published to the model
// at once, in commit order (the best a notification channel can do). A
// deleted job answers errGone with the version of its delete.
type versionedStore struct {
	mu      sync.Mutex
	ver     map[domain.ID]int64
	deleted map[domain.ID]bool
	model   *jobcache.Model
}

type errGone struct{ version int64 }

func (e errGone) Error() string        { return fmt.Sprintf("deleted at version %d", e.version) }
func (e errGone) Is(target error) bool { return target == domain.ErrNotFound }

func pendingJob(id domain.ID, version int64) domain.Job {
	return domain.Job{ID: id, ClientID: "mis-1", Status: domain.StatusPending, ETA: time.Unix(1, 0).UTC(), Version: version}
}

func (s *versionedStore) Get(_ context.Context, id domain.ID) (domain.Job, error) {
	s.mu.Lock()
	v, gone := s.ver[id], s.deleted[id]
	s.mu.Unlock()
	if rand.IntN(4) == 0 { // a slow read, so that changes overtake it
		time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
	}
	if gone {
		return domain.Job{}, errGone{v}
	}
	return pendingJob(id, v), nil
}

func (s *versionedStore) Create(context.Context, domain.Job) (domain.Job, bool, error) {
	return domain.Job{}, false, errors.New("not used")
}

func (s *versionedStore) Finish(context.Context, domain.ID, domain.Outcome) (domain.Job, bool, error) {
	return domain.Job{}, false, errors.New("not used")
}

// change gives id its next version: a delete, a change with its new row,
// or one without (too large for a notification).
func (s *versionedStore) change(id domain.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ver[id]++
	v := s.ver[id]
	switch r := rand.IntN(10); {
	case r == 0:
		s.deleted[id] = true
		s.model.Changed(ports.JobChange{ID: id, Version: v, Deleted: true})
	case r < 5:
		s.deleted[id] = false
		j := pendingJob(id, v)
		s.model.Changed(ports.JobChange{ID: id, Version: v, Job: &j})
	default:
		s.deleted[id] = false
		s.model.Changed(ports.JobChange{ID: id, Version: v})
	}
}

// TestReadsNeverGoBack: readers poll while writers change, delete and
// re-create jobs (a re-created job gets the version right after its
// delete), and the model evicts, drops tombstones and loses its
// notifications; no poll is ever answered with a version older than one
// an earlier poll of the same job was answered with.
func TestReadsNeverGoBack(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cfg        jobcache.Config
		jobs       int
		toggleLive bool
	}{
		{"few entries", jobcache.Config{MaxEntries: 3, MaxBytes: 1 << 20, Live: true}, 8, false},
		{"one entry, notifications lost", jobcache.Config{MaxEntries: 1, MaxBytes: 1 << 20, Live: true}, 4, true},
		{"tombstones dropped", jobcache.Config{MaxEntries: 2, MaxBytes: 1 << 20, Live: true}, 3000, false},
		{"bounded in bytes", jobcache.Config{MaxEntries: 100, MaxBytes: 700, Live: true}, 8, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := jobcache.NewModel(tc.cfg)
			require.NoError(t, err)
			s := &versionedStore{ver: map[domain.ID]int64{}, deleted: map[domain.ID]bool{}, model: m}
			repo, err := jobcache.New(s, m, jobcache.BeforeFill(func(domain.Job) {
				if rand.IntN(3) == 0 {
					time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
				}
			}))
			require.NoError(t, err)
			ids := make([]domain.ID, tc.jobs)
			seen := make([]atomic.Int64, tc.jobs)
			for i := range ids {
				ids[i] = domain.NewID()
				s.change(ids[i])
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var wrong atomic.Int64
			for range 8 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						i := rand.IntN(tc.jobs)
						if rand.IntN(50) == 0 {
							i = rand.IntN(min(tc.jobs, 4)) // a few hot jobs
						}
						before := seen[i].Load()
						j, err := repo.Get(context.Background(), ids[i])
						v := j.Version
						var gone errGone
						if errors.As(err, &gone) {
							v = gone.version
						} else if err != nil {
							t.Errorf("get: %v", err)
							return
						}
						if v < before && wrong.Add(1) <= 5 {
							t.Errorf("job %d: answered version %d after version %d", i, v, before)
						}
						for cur := seen[i].Load(); v > cur && !seen[i].CompareAndSwap(cur, v); cur = seen[i].Load() {
						}
					}
				})
			}
			for range 2 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						s.change(ids[rand.IntN(tc.jobs)])
						if tc.toggleLive && rand.IntN(2000) == 0 {
							m.Live(false)
							m.Live(true)
						}
						time.Sleep(time.Duration(rand.IntN(50)) * time.Microsecond)
					}
				})
			}
			time.Sleep(300 * time.Millisecond)
			close(stop)
			wg.Wait()
			st := m.Stats()
			require.LessOrEqual(t, st.Len, tc.cfg.MaxEntries)
			require.LessOrEqual(t, st.Bytes, tc.cfg.MaxBytes)
		})
	}
}

// serveNewer stores j, publishes it and has it served by a poll.
func serveNewer(t *testing.T, m *jobcache.Model, repo *jobcache.Repository, s *lagStore, j domain.Job) {
	t.Helper()
	s.set(j.ID, &j)
	m.Changed(ports.JobChange{ID: j.ID, Version: j.Version, Job: &j})
	got, err := repo.Get(context.Background(), j.ID)
	require.NoError(t, err)
	require.Equal(t, j.Version, got.Version)
}

// TestANewPollNeverJoinsAnOlderRead: a poll that comes after a newer state
// of its job was served does not share a store read that began before it,
// whatever the model forgot meanwhile: the job re-created right after its
// delete and then pushed out (its tombstone refuses what the delete's
// did), or the job pushed out and its tombstone dropped.
func TestANewPollNeverJoinsAnOlderRead(t *testing.T) {
	for _, tc := range []struct {
		name string
		// before is the store's job when the slow read starts (nil:
		// deleted); after makes the newer state, serves it and makes the
		// model forget it.
		before func(m *jobcache.Model, id domain.ID) *domain.Job
		after  func(t *testing.T, m *jobcache.Model, repo *jobcache.Repository, s *lagStore, id domain.ID) int64
	}{
		{
			name: "re-created right after its delete, then pushed out",
			before: func(m *jobcache.Model, id domain.ID) *domain.Job {
				j := pendingJob(id, 1)
				m.Changed(ports.JobChange{ID: id, Version: 1, Job: &j})
				m.Changed(ports.JobChange{ID: id, Version: 2, Deleted: true})
				return nil
			},
			after: func(t *testing.T, m *jobcache.Model, repo *jobcache.Repository, s *lagStore, id domain.ID) int64 {
				serveNewer(t, m, repo, s, pendingJob(id, 3))
				other := pendingJob(domain.NewID(), 4)
				m.Changed(ports.JobChange{ID: other.ID, Version: 4, Job: &other}) // pushes it out
				return 3
			},
		},
		{
			name: "pushed out and its tombstone dropped",
			before: func(_ *jobcache.Model, id domain.ID) *domain.Job {
				j := pendingJob(id, 1)
				return &j
			},
			after: func(t *testing.T, m *jobcache.Model, repo *jobcache.Repository, s *lagStore, id domain.ID) int64 {
				serveNewer(t, m, repo, s, pendingJob(id, 2))
				for i := range 1100 { // more than the tombstones kept
					o := pendingJob(domain.NewID(), int64(3+i))
					m.Changed(ports.JobChange{ID: o.ID, Version: o.Version, Job: &o})
				}
				return 2
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := jobcache.NewModel(jobcache.Config{MaxEntries: 1, MaxBytes: 1 << 20, Live: true})
			require.NoError(t, err)
			s := newLagStore()
			release, _ := s.hold(1, true) // the first read is slow to come back
			repo, err := jobcache.New(s, m)
			require.NoError(t, err)
			id := domain.NewID()
			s.set(id, tc.before(m, id))

			slow := make(chan error, 1)
			go func() { _, err := repo.Get(context.Background(), id); slow <- err }()
			require.Eventually(t, func() bool { return s.reads.Load() == 1 }, 5*time.Second, time.Millisecond)
			want := tc.after(t, m, repo, s, id)

			type answer struct {
				job domain.Job
				err error
			}
			late := make(chan answer, 1)
			go func() { j, err := repo.Get(context.Background(), id); late <- answer{j, err} }()
			select {
			case a := <-late: // its own read: the slow one is still waiting
				require.NoError(t, a.err)
				require.Equal(t, want, a.job.Version)
			case <-time.After(5 * time.Second):
				close(release)
				a := <-late
				t.Fatalf("the new poll joined the read that began before version %d was served: %v %v", want, a.job.Version, a.err)
			}
			close(release)
			<-slow
		})
	}
}
