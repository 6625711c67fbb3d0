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
	"github.com/jobstatus/jobstatus/test/pgtest"
)

// TestChangeFeedReadsPastAJobsLinksItCannotParse: until migration 00013
// async_jobs only checked that links is a JSON array, so hand-written SQL
// may have stored an array of anything on a PENDING job (or a DONE one: at
// least one element). The
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
			// Written before migration 00013, which refuses such links.
			if tt.done {
				pgtest.WriteUnchecked(t, b.db, `UPDATE async_jobs SET status = 'DONE', finished_at = now(), links = '`+tt.links+`' WHERE id = '`+j.ID.String()+`'`)
			} else {
				pgtest.WriteUnchecked(t, b.db, `UPDATE async_jobs SET links = '`+tt.links+`' WHERE id = '`+j.ID.String()+`'`)
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
