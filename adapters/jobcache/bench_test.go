package jobcache_test

import (
	"context"
	"testing"
	"time"

	"github.com/jobstatus/jobstatus/adapters/jobcache"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/domain"
)

func BenchmarkCacheHit(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
	r, _ := jobcache.New(memory.NewJobs(), mustModel(1000))
	j, _ := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: now, Now: now})
	_, _, _ = r.Create(ctx, j)
	o, _ := domain.Failed(500, "x", now)
	_, _, _ = r.Finish(ctx, j.ID, o)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Get(ctx, j.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
}
