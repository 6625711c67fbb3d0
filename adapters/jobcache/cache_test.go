package jobcache_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/jobcache"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/contract"
)

func TestContract(t *testing.T) {
	t.Parallel()
	contract.JobRepository(t, func(*testing.T) ports.JobRepository {
		r, err := jobcache.New(memory.NewJobs(), 100)
		require.NoError(t, err)
		return r
	})
}

// countingRepo counts Gets that reach the store.
type countingRepo struct {
	ports.JobRepository
	gets int
	down bool
}

func (c *countingRepo) Get(ctx context.Context, id domain.ID) (domain.Job, error) {
	c.gets++
	if c.down {
		return domain.Job{}, domain.ErrUnavailable
	}
	return c.JobRepository.Get(ctx, id)
}

func TestFinishedJobsAreServedWithoutTheStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now()
	store := &countingRepo{JobRepository: memory.NewJobs()}
	r, err := jobcache.New(store, 2)
	require.NoError(t, err)

	mk := func() domain.Job {
		j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: now, Now: now})
		require.NoError(t, err)
		_, _, err = r.Create(ctx, j)
		require.NoError(t, err)
		return j
	}
	pending, done := mk(), mk()
	o, err := domain.Done([]domain.Link{{Entity: "composition", Href: "/x"}}, now)
	require.NoError(t, err)
	_, _, err = store.JobRepository.Finish(ctx, done.ID, o) // finished elsewhere
	require.NoError(t, err)

	for range 3 {
		_, err := r.Get(ctx, pending.ID)
		require.NoError(t, err)
	}
	require.Equal(t, 3, store.gets, "pending jobs always come from the store")

	store.gets = 0
	for range 3 {
		j, err := r.Get(ctx, done.ID)
		require.NoError(t, err)
		require.Equal(t, domain.StatusDone, j.Status)
	}
	require.Equal(t, 1, store.gets, "a finished job is read once")

	store.down = true
	j, err := r.Get(ctx, done.ID)
	require.NoError(t, err, "served with the store down")
	require.Equal(t, domain.StatusDone, j.Status)
	_, err = r.Get(ctx, pending.ID)
	require.ErrorIs(t, err, domain.ErrUnavailable)

	st := r.Stats()
	require.Equal(t, uint64(3), st.Hits)
	require.Equal(t, 1, st.Len)
}

func TestBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now()
	r, err := jobcache.New(memory.NewJobs(), 10)
	require.NoError(t, err)
	for range 50 {
		j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: now, Now: now})
		require.NoError(t, err)
		_, _, err = r.Create(ctx, j)
		require.NoError(t, err)
		o, err := domain.Failed(500, "x", now)
		require.NoError(t, err)
		_, _, err = r.Finish(ctx, j.ID, o)
		require.NoError(t, err)
	}
	require.Equal(t, 10, r.Stats().Len)
}

func TestNewRefusesInvalidSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		next ports.JobRepository
		size int
	}{
		{"ZeroSize", memory.NewJobs(), 0},
		{"NegativeSize", memory.NewJobs(), -3},
		{"NoRepository", nil, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := jobcache.New(tt.next, tt.size)
			require.Error(t, err)
		})
	}
}
