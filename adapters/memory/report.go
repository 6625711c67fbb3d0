package memory

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// The memory store's reports scan every job: fine for development and
// tests, which is all this store is for.

func (s *Jobs) matching(f ports.ReportFilter) []domain.Job {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []domain.Job
	for _, j := range s.jobs {
		if !j.CreatedAt.Before(f.From) && j.CreatedAt.Before(f.To) && (f.ClientID == "" || j.ClientID == f.ClientID) {
			out = append(out, j)
		}
	}
	return out
}

// DailyCounts implements ports.ReportSource.
func (s *Jobs) DailyCounts(ctx context.Context, f ports.ReportFilter, fn func(ports.DailyCount) error) error {
	type key struct {
		day    time.Time
		client string
		status domain.Status
	}
	counts := map[key]int64{}
	for _, j := range s.matching(f) {
		counts[key{j.CreatedAt.UTC().Truncate(24 * time.Hour), j.ClientID, j.Status}]++
	}
	keys := make([]key, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(a.day.Compare(b.day), cmp.Compare(a.client, b.client), cmp.Compare(a.status, b.status))
	})
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(ports.DailyCount{Day: k.day, ClientID: k.client, Status: k.status, Jobs: counts[k]}); err != nil {
			return err
		}
	}
	return nil
}

// TimeToDone implements ports.ReportSource with linear interpolation, like
// PostgreSQL's percentile_cont.
func (s *Jobs) TimeToDone(_ context.Context, f ports.ReportFilter, qs []float64) ([]time.Duration, int64, error) {
	var ds []time.Duration
	for _, j := range s.matching(f) {
		if j.Status == domain.StatusDone && j.FinishedAt != nil {
			ds = append(ds, j.FinishedAt.Sub(j.CreatedAt))
		}
	}
	out := make([]time.Duration, len(qs))
	if len(ds) == 0 {
		return out, 0, nil
	}
	slices.Sort(ds)
	for i, q := range qs {
		pos := q * float64(len(ds)-1)
		lo, hi := int(math.Floor(pos)), int(math.Ceil(pos))
		frac := pos - float64(lo)
		out[i] = ds[lo] + time.Duration(frac*float64(ds[hi]-ds[lo]))
	}
	return out, int64(len(ds)), nil
}

// TopFailures implements ports.ReportSource.
func (s *Jobs) TopFailures(_ context.Context, f ports.ReportFilter, limit int) ([]ports.FailureCount, error) {
	type agg struct {
		jobs     int64
		messages map[string]int64
	}
	byCode := map[int]*agg{}
	for _, j := range s.matching(f) {
		if j.Status != domain.StatusFailed || j.Failure == nil {
			continue
		}
		a := byCode[j.Failure.Code]
		if a == nil {
			a = &agg{messages: map[string]int64{}}
			byCode[j.Failure.Code] = a
		}
		a.jobs++
		a.messages[j.Failure.Message]++
	}
	out := make([]ports.FailureCount, 0, len(byCode))
	for code, a := range byCode {
		msg, best := "", int64(-1)
		for m, n := range a.messages {
			if n > best || (n == best && m < msg) {
				msg, best = m, n
			}
		}
		out = append(out, ports.FailureCount{Code: code, Message: msg, Jobs: a.jobs})
	}
	slices.SortFunc(out, func(a, b ports.FailureCount) int {
		return cmp.Or(cmp.Compare(b.Jobs, a.Jobs), cmp.Compare(a.Code, b.Code))
	})
	return out[:min(limit, len(out))], nil
}
