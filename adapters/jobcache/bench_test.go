package jobcache_test

import (
	"context"
	"testing"
	"time"

	"github.com/jobstatus/jobstatus/adapters/jobcache"
)

func BenchmarkCacheHit(b *testing.B) {
	ctx := context.Background()
	t := &testing.T{}
	bundle := setup(t, jobcache.Config{MaxEntries: 1000, MaxBytes: 1 << 20, StalenessBound: time.Hour})
	j := bundle.create(t)
	bundle.finish(t, j.ID)
	bundle.feed(t)
	if _, err := bundle.repo.Get(ctx, j.ID); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := bundle.repo.Get(ctx, j.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	if bundle.store.gets.Load() != 1 {
		b.Fatalf("hits read the store: %d reads", bundle.store.gets.Load())
	}
}
