package jobcache_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/jobcache"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// Synchronous notifications; an old read of version 1 held while its job
// is changed, evicted and re-filled many times: never kept, never joined.
func TestAnOldReadIsNeverKeptNorJoined(t *testing.T) {
	m, s, repo := newLagRepo(t, 1, true)
	id := domain.NewID()
	v := int64(1)
	j := pendingJob(id, v)
	s.set(id, &j)
	rel, read := s.hold(1, true)
	old := goGet(repo, id)
	<-read
	for i := range 200 {
		v++
		j := pendingJob(id, v)
		s.set(id, &j)
		if i%2 == 0 {
			m.Changed(ports.JobChange{ID: id, Version: v, Job: &j})
		} else {
			m.Changed(ports.JobChange{ID: id, Version: v})
		}
		a := <-goGet(repo, id)
		require.NoError(t, a.err)
		require.Equal(t, v, a.job.Version)
		o := pendingJob(domain.NewID(), 10000+int64(i))
		m.Changed(ports.JobChange{ID: o.ID, Version: o.Version, Job: &o}) // pushes id out
	}
	close(rel)
	<-old
	a := <-goGet(repo, id)
	require.NoError(t, a.err)
	require.Equal(t, v, a.job.Version)
}

// MaxBytes with jobs of very different sizes: bytes stay within the bound
// except when one job alone is larger than it (documented).
func TestBoundedWithMixedSizes(t *testing.T) {
	const maxBytes = 20000
	m, err := jobcache.NewModel(jobcache.Config{MaxEntries: 1000, MaxBytes: maxBytes, Live: true})
	require.NoError(t, err)
	for i := range 5000 {
		j := pendingJob(domain.NewID(), int64(i+1))
		j.Status = domain.StatusFailed
		j.Failure = &domain.Failure{Message: strings.Repeat("x", rand.IntN(8000))}
		m.Changed(ports.JobChange{ID: j.ID, Version: j.Version, Job: &j})
		st := m.Stats()
		require.LessOrEqual(t, st.Bytes, int64(maxBytes))
		require.LessOrEqual(t, st.Len, 1000)
	}
	big := pendingJob(domain.NewID(), 99999)
	big.Failure = &domain.Failure{Message: strings.Repeat("x", 3*maxBytes)}
	m.Changed(ports.JobChange{ID: big.ID, Version: big.Version, Job: &big})
	st := m.Stats()
	require.Equal(t, 1, st.Len, "one job larger than MaxBytes is kept alone")
}
