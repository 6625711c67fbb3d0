package domain_test

import (
	"testing"
	"time"

	"github.com/jobstatus/jobstatus/domain"
)

// TestEveryPathRecordsTheSamePrecision: a job's times are kept at
// domain.Precision whichever way it was created or finished, so that a job
// read back from PostgreSQL equals the job the use case returned.
func TestEveryPathRecordsTheSamePrecision(t *testing.T) {
	t.Parallel()
	// Nanoseconds and a zone other than UTC: both must go.
	at := time.Date(2026, 11, 28, 12, 0, 0, 123456789, time.FixedZone("X", 3600))
	want := time.Date(2026, 11, 28, 11, 0, 0, 123456000, time.UTC)
	done, err := domain.Done([]domain.Link{{Entity: "composition", Href: "/c"}}, at)
	if err != nil {
		t.Fatal(err)
	}
	failed, err := domain.Failed(1, "x", at)
	if err != nil {
		t.Fatal(err)
	}
	job, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: at, Now: at})
	if err != nil {
		t.Fatal(err)
	}
	// An outcome built by hand (as a store might) is rounded when applied.
	handmade := domain.Outcome{Status: domain.StatusFailed, Failure: &domain.Failure{Code: 1, Message: "x"}, At: at}
	finished, _, err := job.Finish(handmade)
	if err != nil {
		t.Fatal(err)
	}
	restored := domain.Job{ETA: at, CreatedAt: at, UpdatedAt: at, FinishedAt: &at}.Normalize()
	tests := []struct {
		name string
		got  time.Time
	}{
		{"Done", done.At},
		{"Failed", failed.At},
		{"TimedOut", domain.TimedOut(at).At},
		{"NewCreatedAt", job.CreatedAt},
		{"NewETA", job.ETA},
		{"FinishUpdatedAt", finished.UpdatedAt},
		{"FinishFinishedAt", *finished.FinishedAt},
		{"NormalizeETA", restored.ETA},
		{"NormalizeCreatedAt", restored.CreatedAt},
		{"NormalizeFinishedAt", *restored.FinishedAt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !tt.got.Equal(want) || tt.got.Location() != time.UTC {
				t.Fatalf("got %s, want %s", tt.got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
			}
		})
	}
}

func TestLinksAreNeverNil(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  []domain.Link
	}{
		{"LinksOfNil", domain.Links(nil)},
		{"NormalizedJob", domain.Job{}.Normalize().Links},
		{"NewJob", pendingJob(t).Links},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.got == nil || len(tt.got) != 0 {
				t.Fatalf("got %#v, want an empty non-nil list", tt.got)
			}
		})
	}
}
