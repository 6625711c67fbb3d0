package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// TestUseCasesRefuseTextPostgresCannotStore: invalid UTF-8 and NUL in any
// text a job carries are validation errors from the use cases, before the
// store: never a driver error, and the job is left as it was (issue 10,
// items 9 and 10).
func TestUseCasesRefuseTextPostgresCannotStore(t *testing.T) {
	t.Parallel()
	jobs, _ := newJobs(t, 5*time.Second)
	clock := ports.ClockFunc(time.Now)
	eta, err := app.NewETA(app.ETAConfig{Default: 30 * time.Second, Percentile: 0.9, Window: 100, MinSamples: 10,
		Min: time.Second, Max: time.Hour}, jobs)
	require.NoError(t, err)
	uc, err := app.NewOperator(app.OperatorDeps{Jobs: jobs, Maintenance: jobs, Reports: jobs, Clock: clock, ETA: eta, Batch: 10})
	require.NoError(t, err)
	ctx := context.Background()
	job, err := uc.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-alpha"})
	require.NoError(t, err)

	bad := []string{"bad\xff", "a\x00b", "\x00", "caf\xc3", "\xed\xa0\x80", "\xc0\xaf"}
	type call struct {
		name  string
		field string
		run   func(s string) error
	}
	calls := []call{
		{"FailMessage", "message", func(s string) error {
			_, err := uc.FailJob.Handle(ctx, app.FailJob{ID: job.ID.String(), Code: 422, Message: s})
			return err
		}},
		{"LinkHref", "links", func(s string) error {
			_, err := uc.CompleteJob.Handle(ctx, app.CompleteJob{ID: job.ID.String(), Links: []domain.Link{{Entity: "composition", Href: "/p/" + s}}})
			return err
		}},
		{"LinkEntity", "links", func(s string) error {
			_, err := uc.CompleteJob.Handle(ctx, app.CompleteJob{ID: job.ID.String(), Links: []domain.Link{{Entity: "c" + s, Href: "/p"}}})
			return err
		}},
		{"ClientID", "client", func(s string) error {
			_, err := uc.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis" + s})
			return err
		}},
		{"IdempotencyKey", "idempotency_key", func(s string) error {
			_, err := uc.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-alpha", IdempotencyKey: "k" + s})
			return err
		}},
	}
	for _, c := range calls {
		for _, s := range bad {
			err := c.run(s)
			var ve *domain.ValidationError
			require.True(t, errors.As(err, &ve), "%s %q: %v", c.name, s, err)
			require.Equal(t, c.field, ve.Field, "%s %q", c.name, s)
			require.NotContains(t, err.Error(), "pq:")
		}
	}
	err = uc.Report.Handle(ctx, app.Report{From: time.Now(), To: time.Now(), ClientID: "mis\xff", TopFailures: 3}, nil)
	var rve *domain.ValidationError
	require.True(t, errors.As(err, &rve), "report of client %q: %v", "mis\xff", err)
	require.Equal(t, "client", rve.Field)

	// The same network-path href the issue reported, through the use case.
	_, err = uc.CompleteJob.Handle(ctx, app.CompleteJob{ID: job.ID.String(),
		Links: []domain.Link{{Entity: "composition", Href: "//evil.example/patients/p/encounter/e/composition/c"}}})
	var ve *domain.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)

	got, err := uc.GetJob.Handle(ctx, app.GetJob{ID: job.ID.String()})
	require.NoError(t, err)
	require.Equal(t, job, got, "refused input leaves the job unchanged")
}
