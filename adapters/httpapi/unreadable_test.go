package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/api"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestAJobTheStoreCannotRead: a job the store holds but cannot read (a
// row written by hand against the service's rules) answers its owner 500
// internal_error, with nothing of why in the answer, and any other client
// 404 like any job of another client; the log names the job and the
// column for the operator. A listing answers every other job of its page
// and names that one in meta.unreadable: it answered 500, so one such job
// hid every other job of its client.
func TestAJobTheStoreCannotRead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const reason = `"infinity" is not a date`
	spoil := func(client, column string) domain.Job {
		j, err := b.app.CreateJob.Handle(ctx, app.CreateJob{ClientID: client, ETA: 30 * time.Second})
		require.NoError(t, err)
		b.repo.spoil(j, column, reason)
		return j
	}
	ownA, ownB := spoil(testkit.ClientA, "eta"), spoil(testkit.ClientB, "links")
	alpha, beta := b.auth(testkit.ClientA, testkit.KeyA), b.auth(testkit.ClientB, testkit.KeyB)
	doc := loadOpenAPI(t, api.OpenAPI)
	logged := func(t *testing.T, msg string, j domain.Job, column string) {
		t.Helper()
		lines := b.logs.FilterMessage(msg).FilterField(zap.String("job_id", j.ID.String())).All()
		require.NotEmpty(t, lines, "a log line %q naming job %s", msg, j.ID)
		fields := lines[0].ContextMap()
		require.Equal(t, column, fields["column"])
		require.Equal(t, reason, fields["reason"])
		require.Equal(t, j.ClientID, fields["job_client_id"])
	}

	t.Run("PollByItsOwnerIs500AndLogged", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			job    domain.Job
			header map[string][]string
			column string
		}{{ownA, alpha, "eta"}, {ownB, beta, "links"}} {
			r := b.do(t, "GET", jobPath(tt.job.ID), tt.header, nil)
			requireError(t, r, 500, "internal_error", "Internal server error")
			require.NotContains(t, string(r.Raw), "infinity", "why stays in the log")
			requireMatchesOpenAPI(t, doc, "GET", jobPath(tt.job.ID), r)
			logged(t, "request failed", tt.job, tt.column)
		}
	})
	t.Run("HeldPollByItsOwnerIs500AtOnce", func(t *testing.T) {
		t.Parallel()
		h := alpha.Clone()
		h.Set("Prefer", "wait=20")
		r := b.do(t, "GET", jobPath(ownA.ID), h, nil)
		requireError(t, r, 500, "internal_error", "Internal server error")
	})
	t.Run("PollByAnotherClientIs404", func(t *testing.T) {
		t.Parallel()
		requireError(t, b.do(t, "GET", jobPath(ownA.ID), beta, nil), 404, "not_found", "Task not found")
		requireError(t, b.do(t, "GET", jobPath(ownB.ID), alpha, nil), 404, "not_found", "Task not found")
	})
	t.Run("ListingAnswersTheOthersAndNamesIt", func(t *testing.T) {
		t.Parallel()
		r := b.do(t, "GET", httpapi.JobsPath, alpha, nil)
		require.Equal(t, 200, r.Status, string(r.Raw))
		requireMatchesOpenAPI(t, doc, "GET", httpapi.JobsPath, r)
		var ids []string
		for _, d := range r.Body["data"].([]any) {
			ids = append(ids, d.(map[string]any)["id"].(string))
		}
		require.ElementsMatch(t, []string{b.pending.ID.String(), b.done.ID.String(), b.failed.ID.String()}, ids)
		require.Equal(t, []any{ownA.ID.String()}, r.Body["meta"].(map[string]any)["unreadable"])
		require.False(t, strings.Contains(string(r.Raw), "infinity"), "why stays in the log")
		logged(t, "job cannot be read", ownA, "eta")

		r = b.do(t, "GET", httpapi.JobsPath+"?status=DONE", alpha, nil)
		require.Equal(t, 200, r.Status, string(r.Raw))
		require.NotContains(t, r.Body["meta"], "unreadable", "absent when the page has none")
	})
}

// TestAListingLogsItsUnreadableJobsOnce: a page holding several jobs the
// store cannot read logs one line for the listing, naming them all, not
// one line for each of them on every listing (a client listing a page
// of such jobs again and again flooded the log with a line per job).
func TestAListingLogsItsUnreadableJobsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var want []string
	for range 3 {
		j, err := b.app.CreateJob.Handle(ctx, app.CreateJob{ClientID: testkit.ClientA, ETA: 30 * time.Second})
		require.NoError(t, err)
		b.repo.spoil(j, "links", "not an array of objects with entity and href strings")
		want = append(want, j.ID.String())
	}
	r := b.do(t, "GET", httpapi.JobsPath, b.auth(testkit.ClientA, testkit.KeyA), nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	unreadable := r.Body["meta"].(map[string]any)["unreadable"].([]any)
	require.Len(t, unreadable, len(want))
	lines := b.logs.FilterMessage("job cannot be read").All()
	require.Len(t, lines, 1, "one line a listing")
	fields := lines[0].ContextMap()
	require.ElementsMatch(t, want, fields["job_ids"])
	require.Equal(t, unreadable[0], fields["job_id"], "the first one's fields, as documented")
	require.Equal(t, "links", fields["column"])
	require.Equal(t, testkit.ClientA, fields["job_client_id"])
}
