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

// CreationFilters runs the listing's creation-time filters through the use
// case over the store: created_from is "created at or after", created_to
// "created before", exactly, at any precision RFC 3339 allows and in any
// offset, though the store keeps microseconds.
func CreationFilters(t *testing.T, newRepo Factory) {
	ctx := context.Background()
	repo := newRepo(t)
	lister, ok := repo.(ports.JobLister)
	require.True(t, ok, "the store lists jobs")
	h, err := app.NewListJobsHandler(lister, app.ListConfig{DefaultPageSize: 10, MaxPageSize: 10})
	require.NoError(t, err)
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
