package postgres_test

// A change the table accepts but the service cannot represent does not
// stop the change log's readers (found by a reviewer: it stopped every
// feed at that position).

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/domain"
)

// TestChangeFeedReadsPastAJobsLinksItCannotParse: async_jobs only checks
// that links is a JSON array, so hand-written SQL may store an array of
// anything on a PENDING job (or a DONE one: at least one element). The
// log's entry is then a ChangeUnreadable, and ChangesAfter goes on past it
// (before, it failed every read that reached it, on every instance, for as
// long as retention kept it); the stream's replay skips it.
func TestChangeFeedReadsPastAJobsLinksItCannotParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, links string
		done        bool
	}{
		{"NumbersOnAPendingJob", `[1]`, false},
		{"EntityNotAStringOnAPendingJob", `[{"entity": 1, "href": "/c"}]`, false},
		{"NestedArrayOnAFinishedJob", `[[]]`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			jobs, b := setupLog(t)
			ctx := context.Background()
			j, _, err := jobs.Create(ctx, newJob(t, "mis-alpha", time.Now()))
			require.NoError(t, err)
			before := head(t, jobs)
			if tt.done {
				b.exec(t, `UPDATE async_jobs SET status = 'DONE', finished_at = now(), links = $2::jsonb WHERE id = $1`, j.ID.String(), tt.links)
			} else {
				b.exec(t, `UPDATE async_jobs SET links = $2::jsonb WHERE id = $1`, j.ID.String(), tt.links)
			}
			later, _, err := jobs.Create(ctx, newJob(t, "mis-alpha", time.Now()))
			require.NoError(t, err)

			changes, _, err := jobs.ChangesAfter(ctx, before, 1000)
			require.NoError(t, err, "the feed cannot get past the entry: every later change is lost to every instance")
			var ids []domain.ID
			for _, c := range changes {
				ids = append(ids, c.ID)
			}
			require.Contains(t, ids, later.ID)

			_, err = jobs.EventsAfter(ctx, "mis-alpha", before, 1000)
			require.NoError(t, err, "the client's stream cannot replay past the entry")
		})
	}
}
