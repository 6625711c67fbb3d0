package contract

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// lists returns a new store and the listing use case over it, pageSize
// jobs a page.
func lists(t *testing.T, newRepo Factory, pageSize int) (ports.JobRepository, app.ListJobsHandler) {
	t.Helper()
	repo := newRepo(t)
	lister, ok := repo.(ports.JobLister)
	require.True(t, ok, "the store lists jobs")
	h, err := app.NewListJobsHandler(lister, app.ListConfig{DefaultPageSize: pageSize, MaxPageSize: pageSize})
	require.NoError(t, err)
	return repo, h
}

// CreationFilters runs the listing's creation-time filters through the use
// case over the store: created_from is "created at or after", created_to
// "created before", exactly, at any precision RFC 3339 allows and in any
// offset, though the store keeps microseconds.
func CreationFilters(t *testing.T, newRepo Factory) {
	ctx := context.Background()
	repo, h := lists(t, newRepo, 10)
	const client = "mis-filters"
	second := time.Date(2026, 11, 28, 12, 0, 5, 0, time.UTC)
	at := map[string]domain.Job{} // by microsecond of the second
	for _, us := range []string{"555554", "555555", "555556"} {
		d, err := time.ParseDuration(us + "us")
		require.NoError(t, err)
		j := jobAt(t, client, second.Add(d))
		create(t, repo, j)
		at[us] = j
	}
	tests := []struct {
		name, from, to string
		want           []string // microseconds listed, newest first
	}{
		{"FromJustAfterAMicrosecond", "2026-11-28T12:00:05.5555551Z", "", []string{"555556"}},
		{"FromJustBeforeAMicrosecond", "2026-11-28T12:00:05.5555549Z", "", []string{"555556", "555555"}},
		{"FromOnTheMicrosecond", "2026-11-28T12:00:05.555555Z", "", []string{"555556", "555555"}},
		{"FromOnTheMicrosecondInNanoseconds", "2026-11-28T12:00:05.555555000Z", "", []string{"555556", "555555"}},
		{"FromOneNanosecondAfter", "2026-11-28T12:00:05.555555001Z", "", []string{"555556"}},
		{"FromHalfAMicrosecondAfter", "2026-11-28T12:00:05.5555555Z", "", []string{"555556"}},
		{"FromInAnotherOffset", "2026-11-28T14:00:05.5555551+02:00", "", []string{"555556"}},
		{"FromInANegativeOffset", "2026-11-28T06:30:05.5555551-05:30", "", []string{"555556"}},
		{"ToJustAfterAMicrosecond", "", "2026-11-28T12:00:05.5555551Z", []string{"555555", "555554"}},
		{"ToJustBeforeAMicrosecond", "", "2026-11-28T12:00:05.5555549Z", []string{"555554"}},
		{"ToOnTheMicrosecond", "", "2026-11-28T12:00:05.555555Z", []string{"555554"}},
		{"ToOneNanosecondAfter", "", "2026-11-28T12:00:05.555555001Z", []string{"555555", "555554"}},
		{"ToHalfAMicrosecondAfter", "", "2026-11-28T12:00:05.5555555Z", []string{"555555", "555554"}},
		{"ToInAnotherOffset", "", "2026-11-28T14:00:05.5555551+02:00", []string{"555555", "555554"}},
		{"BothWithinOneMicrosecond", "2026-11-28T12:00:05.5555551Z", "2026-11-28T12:00:05.5555559Z", nil},
		{"BothAroundOneMicrosecond", "2026-11-28T12:00:05.5555549Z", "2026-11-28T12:00:05.5555551Z", []string{"555555"}},
		{"BothInOffsets", "2026-11-28T13:00:05.5555549+01:00", "2026-11-28T11:00:05.5555561-01:00", []string{"555556", "555555"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := h.Handle(ctx, app.ListJobs{Principal: domain.Principal{ClientID: client, Scopes: []string{domain.ScopeCompositionRead}},
				CreatedFrom: tt.from, CreatedTo: tt.to})
			require.NoError(t, err)
			var got []domain.ID
			for _, j := range page.Jobs {
				got = append(got, j.ID)
			}
			var want []domain.ID
			for _, us := range tt.want {
				want = append(want, at[us].ID)
			}
			require.Equal(t, want, got)
		})
	}
}

// PagesThroughAnyCreationYear pages one job at a time through jobs created
// from year 1 to the last microsecond of year 9999, every time RFC 3339
// writes: each once, newest first. A page token once held the creation
// time in Unix nanoseconds, which stop at 2262 and begin at 1677 (a page
// ending at a job created outside went elsewhere), and PostgreSQL's
// listing stopped at 9999-01-01.
func PagesThroughAnyCreationYear(t *testing.T, newRepo Factory) {
	ctx := context.Background()
	repo, h := lists(t, newRepo, 1)
	const client = "mis-years"
	var want []domain.ID // newest first
	for _, created := range []time.Time{
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(9999, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2262, 4, 12, 0, 0, 0, 0, time.UTC),
		t0,
		time.Date(1677, 9, 20, 0, 0, 0, 0, time.UTC),
		time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC),
	} {
		j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: client, ETA: t0, Now: created})
		require.NoError(t, err)
		create(t, repo, j)
		want = append(want, j.ID)
	}
	var got []domain.ID
	token := ""
	for range 2 * len(want) {
		page, err := h.Handle(ctx, app.ListJobs{Principal: domain.Principal{ClientID: client, Scopes: []string{domain.ScopeCompositionRead}},
			PageToken: token})
		require.NoError(t, err)
		for _, j := range page.Jobs {
			got = append(got, j.ID)
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	require.Equal(t, want, got)
}
