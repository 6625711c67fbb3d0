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

// TestValidTimeIsWhatRFC3339Writes: the times a job may carry are those
// RFC 3339 (four-digit years) and HTTP dates write, years 1 to 9999, in
// any zone.
func TestValidTimeIsWhatRFC3339Writes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		t    time.Time
		want bool
	}{
		{"YearOne", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"Now", time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), true},
		{"LastNanosecondOf9999", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), true},
		{"Year10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"Year20000", time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"YearZero", time.Date(0, 12, 31, 23, 59, 59, 999999999, time.UTC), false},
		{"BeforeChrist", time.Date(-4712, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"Year10000InUTCIs9999Elsewhere", time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("-02", -2*3600)), false},
		{"Year1InUTCIsYear0Elsewhere", time.Date(1, 1, 1, 0, 30, 0, 0, time.FixedZone("+01", 3600)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := domain.ValidTime(tt.t); got != tt.want {
				t.Fatalf("ValidTime(%s) = %v, want %v", tt.t.Format(time.RFC3339Nano), got, tt.want)
			}
		})
	}
}
