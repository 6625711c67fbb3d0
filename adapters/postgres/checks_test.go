package postgres_test

import (
	"context"
	"errors"
	"math"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/pgtest"
)

// jobColumns are the columns a hand-written INSERT of a job gives, with a
// PENDING job's values: a row every check accepts.
var jobColumns = []struct{ name, value string }{
	{"id", "gen_random_uuid()"}, {"client_id", "'mis-alpha'"}, {"idempotency_key", "NULL"}, {"status", "'PENDING'"},
	{"eta", "now()"}, {"links", "'[]'"}, {"error_code", "NULL"}, {"error_message", "NULL"},
	{"created_at", "now()"}, {"updated_at", "now()"}, {"finished_at", "NULL"},
}

// failed and done are the columns that make a row FAILED or DONE.
var (
	failed = "status = 'FAILED', error_code = 504, error_message = 'job timed out', finished_at = now()"
	done   = `status = 'DONE', links = '[{"entity": "composition", "href": "/c"}]', finished_at = now()`
)

// rowChecks are values hand-written SQL may try to store, each with the
// check of migration 00013 that refuses it ("" for values every check
// accepts). set is an UPDATE's SET list; insert builds the same row.
var rowChecks = []struct {
	name, set, check string
}{
	{"LinksEmpty", `links = '[]'`, ""},
	{"LinksOfTheService", `links = '[{"entity": "composition", "href": "/patients/p/encounter/e/composition/c"}]'`, ""},
	{"LinksWithAnotherKey", `links = '[{"entity": "composition", "href": "/c", "title": "x"}]'`, ""},
	{"LinksNumbers", `links = '[1]'`, "async_jobs_links_shape"},
	{"LinksNull", `links = '[null]'`, "async_jobs_links_shape"},
	{"LinksNestedEmpty", `links = '[[]]'`, "async_jobs_links_shape"},
	{"LinksNestedLink", `links = '[[{"entity": "composition", "href": "/c"}]]'`, "async_jobs_links_shape"},
	{"LinksWithoutHref", `links = '[{"entity": "composition"}]'`, "async_jobs_links_shape"},
	{"LinksSecondWithoutEntity", `links = '[{"entity": "composition", "href": "/c"}, {"href": "/d"}]'`, "async_jobs_links_shape"},
	{"LinksEntityANumber", `links = '[{"entity": 1, "href": "/c"}]'`, "async_jobs_links_shape"},
	{"LinksEntityAnArray", `links = '[{"entity": ["composition"], "href": "/c"}]'`, "async_jobs_links_shape"},
	{"LinksHrefNull", `links = '[{"entity": "composition", "href": null}]'`, "async_jobs_links_shape"},
	{"LinksEmptyEntity", `links = '[{"entity": "", "href": "/c"}]'`, "async_jobs_links_shape"},
	{"LinksEmptyHref", `links = '[{"entity": "composition", "href": ""}]'`, "async_jobs_links_shape"},
	{"EtaYearOne", `eta = '0001-01-01T00:00:00Z'`, ""},
	{"EtaLastMicrosecond", `eta = '9999-12-31T23:59:59.999999Z'`, ""},
	{"EtaInfinity", `eta = 'infinity'`, "async_jobs_eta_range"},
	{"EtaMinusInfinity", `eta = '-infinity'`, "async_jobs_eta_range"},
	{"EtaYear10000", `eta = '10000-01-01T00:00:00Z'`, "async_jobs_eta_range"},
	{"EtaBeforeYearOne", `eta = '0001-12-31T23:59:59Z BC'`, "async_jobs_eta_range"},
	{"CreatedAtInfinity", `created_at = 'infinity'`, "async_jobs_created_at_range"},
	{"CreatedAtYear20000", `created_at = '20000-01-01T00:00:00Z'`, "async_jobs_created_at_range"},
	{"UpdatedAtMinusInfinity", `updated_at = '-infinity'`, "async_jobs_updated_at_range"},
	{"UpdatedAtYear20000", `updated_at = '20000-01-01T00:00:00Z'`, "async_jobs_updated_at_range"},
	{"FinishedAtInfinity", failed + `, finished_at = 'infinity'`, "async_jobs_finished_at_range"},
	{"FinishedAtBeforeYearOne", failed + `, finished_at = '0100-01-01T00:00:00Z BC'`, "async_jobs_finished_at_range"},
	{"ClientIDLongest", `client_id = repeat('a', 255)`, ""},
	{"ClientIDPunctuation", `client_id = '~!mis.alpha_1'`, ""},
	{"ClientIDWithASpace", `client_id = 'mis alpha'`, "async_jobs_client_id_rule"},
	{"ClientIDWithATab", `client_id = E'mis\talpha'`, "async_jobs_client_id_rule"},
	{"ClientIDNotASCII", `client_id = 'mis-é'`, "async_jobs_client_id_rule"},
	{"ClientIDTooLong", `client_id = repeat('a', 256)`, "async_jobs_client_id_rule"},
	{"IdempotencyKeyWithSpaces", `idempotency_key = 'sign 4711'`, ""},
	{"IdempotencyKeyWithAControl", `idempotency_key = E'sign\x014711'`, "async_jobs_idempotency_key_rule"},
	{"IdempotencyKeyNotASCII", `idempotency_key = 'ключ'`, "async_jobs_idempotency_key_rule"},
	{"FailedAsTheSweeperWrites", failed, ""},
	{"DoneAsAWorkerWrites", done, ""},
	{"ErrorCodeLowest", failed + `, error_code = 1`, ""},
	{"ErrorCodeHighest", failed + `, error_code = 999`, ""},
	{"ErrorCodeZero", failed + `, error_code = 0`, "async_jobs_error_code_range"},
	{"ErrorCodeNegative", failed + `, error_code = -422`, "async_jobs_error_code_range"},
	{"ErrorCode1000", failed + `, error_code = 1000`, "async_jobs_error_code_range"},
	{"ErrorMessageEmpty", failed + `, error_message = ''`, "async_jobs_error_message_text"},
	{"ErrorMessageBlank", failed + `, error_message = E' \t\n'`, "async_jobs_error_message_text"},
}

// assignments reads a SET list, "column = value, ...", the last value of
// a column winning (failed + ", error_code = 1" changes failed's code).
func assignments(set string) (names []string, values map[string]string) {
	values = map[string]string{}
	for _, part := range splitSet(set) {
		name, value, _ := strings.Cut(part, " = ")
		name = strings.TrimSpace(name)
		if _, ok := values[name]; !ok {
			names = append(names, name)
		}
		values[name] = value
	}
	return names, values
}

// updateRow is a hand-written UPDATE of the job id, as set says.
func updateRow(set string, id domain.ID) string {
	names, values := assignments(set)
	var list []string
	for _, n := range names {
		list = append(list, n+" = "+values[n])
	}
	return `UPDATE async_jobs SET ` + strings.Join(list, ", ") + ` WHERE id = '` + id.String() + `'`
}

// insertRow is a hand-written INSERT of a PENDING job changed as set says.
func insertRow(set string) string {
	_, values := assignments(set)
	var names, vals []string
	for _, c := range jobColumns {
		v, ok := values[c.name]
		if !ok {
			v = c.value
		}
		names = append(names, c.name)
		vals = append(vals, v)
	}
	return `INSERT INTO async_jobs (` + strings.Join(names, ", ") + `) VALUES (` + strings.Join(vals, ", ") + `)`
}

// splitSet splits a SET list at its top-level commas.
func splitSet(set string) []string {
	var parts []string
	depth, quoted, start := 0, false, 0
	for i, c := range set {
		switch {
		case c == '\'':
			quoted = !quoted
		case quoted:
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth--
		case c == ',' && depth == 0:
			parts = append(parts, set[start:i])
			start = i + 1
		}
	}
	return append(parts, set[start:])
}

// violated returns the check err says a row broke, or "" for no error.
func violated(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var pqErr *pq.Error
	require.True(t, errors.As(err, &pqErr), "got %v", err)
	require.Equal(t, "23514", string(pqErr.Code), "a check violation: %v", err)
	return pqErr.Constraint
}

// TestRowChecksRefuseWhatTheServiceCannotRead: since migration 00013 an
// INSERT or UPDATE of hand-written SQL that stores what the service cannot
// read (links of another shape, a time that is no date or outside the
// years 1 to 9999) or never writes (a client id or idempotency key
// outside its rule, a failure code outside 1 to 999, a blank message) is
// refused with SQLSTATE 23514 naming the check, and the row stays as it
// was; every value the service writes, and the edges of each rule, pass.
func TestRowChecksRefuseWhatTheServiceCannotRead(t *testing.T) {
	t.Parallel()
	jobs, b := setupLog(t)
	ctx := context.Background()
	for _, tt := range rowChecks {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.db.ExecContext(ctx, insertRow(tt.set))
			require.Equal(t, tt.check, violated(t, err), "INSERT")

			// Another client's job: its idempotency key does not meet the
			// inserted row's.
			j, _, err := jobs.Create(ctx, newJob(t, "mis-beta", time.Now()))
			require.NoError(t, err)
			_, err = b.db.ExecContext(ctx, updateRow(tt.set, j.ID))
			require.Equal(t, tt.check, violated(t, err), "UPDATE")
			if tt.check != "" {
				got, err := jobs.Get(ctx, j.ID)
				require.NoError(t, err)
				require.Equal(t, j, got, "the row stays as it was")
			}
		})
	}
}

// TestRowChecksAndTheirFinderAgree: async_jobs_broken_check, the function
// operators and the sweeper use to find rows written before the checks,
// names for each such row the check the row breaks, and NULL for a row
// that breaks none: it holds the checks' expressions a second time.
func TestRowChecksAndTheirFinderAgree(t *testing.T) {
	t.Parallel()
	jobs, b := setupLog(t)
	ctx := context.Background()
	ids := make([]domain.ID, len(rowChecks))
	var statements []string
	for i, tt := range rowChecks {
		j, _, err := jobs.Create(ctx, newJob(t, "mis-alpha", time.Now()))
		require.NoError(t, err)
		ids[i] = j.ID
		statements = append(statements, updateRow(tt.set, j.ID))
	}
	pgtest.WriteUnchecked(t, b.db, statements...)
	for i, tt := range rowChecks {
		var found *string
		require.NoError(t, b.db.GetContext(ctx, &found, `SELECT async_jobs_broken_check(j) FROM async_jobs j WHERE id = $1`, ids[i].String()))
		if tt.check == "" {
			require.Nil(t, found, tt.name)
			continue
		}
		require.NotNil(t, found, tt.name)
		require.Equal(t, tt.check, *found, tt.name)
	}
}

// TestOperatorsFindAndValidateRowsWrittenBeforeTheChecks runs the SQL of
// docs/operations.md ("Rows written by hand") as written: the query finds
// every row written before the checks that breaks one, with that check,
// and the validation fails while one is left and passes once they are
// fixed, leaving every check validated.
func TestOperatorsFindAndValidateRowsWrittenBeforeTheChecks(t *testing.T) {
	t.Parallel()
	jobs, b := setupLog(t)
	ctx := context.Background()
	find, validate := operationsSQL(t)
	want := map[string]string{}
	var statements []string
	for _, tt := range rowChecks {
		j, _, err := jobs.Create(ctx, newJob(t, "mis-alpha", time.Now()))
		require.NoError(t, err)
		statements = append(statements, updateRow(tt.set, j.ID))
		if tt.check != "" {
			want[j.ID.String()] = tt.check
		}
	}
	pgtest.WriteUnchecked(t, b.db, statements...)

	var rows []struct {
		ID          string  `db:"id"`
		ClientID    string  `db:"client_id"`
		Status      string  `db:"status"`
		BrokenCheck *string `db:"broken_check"`
	}
	require.NoError(t, b.db.SelectContext(ctx, &rows, find))
	got := map[string]string{}
	for _, r := range rows {
		require.NotNil(t, r.BrokenCheck)
		got[r.ID] = *r.BrokenCheck
	}
	require.Equal(t, want, got)

	_, err := b.db.ExecContext(ctx, validate)
	require.Error(t, err, "a row still breaks a check")
	require.Positive(t, notValidated(t, b.db), "a failed validation validates nothing")
	for id := range want {
		b.exec(t, `DELETE FROM async_jobs WHERE id = $1`, id)
	}
	b.exec(t, validate)
	require.Zero(t, notValidated(t, b.db))
}

// operationsSQL returns the two SQL blocks of docs/operations.md's "Rows
// written by hand": the query that finds rows and the validation.
func operationsSQL(t *testing.T) (find, validate string) {
	t.Helper()
	page, err := os.ReadFile("../../docs/operations.md")
	require.NoError(t, err)
	section, _, _ := strings.Cut(string(page[strings.Index(string(page), "## Rows written by hand"):]), "\n## ")
	blocks := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(section, -1)
	require.Len(t, blocks, 2, "the query and the validation")
	return blocks[0][1], blocks[1][1]
}

func notValidated(t *testing.T, db *sqlx.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.Get(&n, `SELECT count(*) FROM pg_constraint WHERE conrelid = 'async_jobs'::regclass AND NOT convalidated`))
	return n
}

// TestWritesPassRowsWrittenBeforeTheChecks: a NOT VALID check applies to
// every row an UPDATE writes, so a PENDING row written before the checks
// that breaks one cannot be updated. The sweeper leaves such rows alone
// and fails the others (one in its batch failed the whole sweep, every
// time, while it stayed among the oldest); finishing such a job fails
// naming the check, and the job stays as it was.
func TestWritesPassRowsWrittenBeforeTheChecks(t *testing.T) {
	t.Parallel()
	jobs, b := setupLog(t)
	ctx := context.Background()
	old := time.Now().Add(-2 * time.Hour)
	var broken, others []domain.ID
	var statements []string
	for i := range 6 {
		j, _, err := jobs.Create(ctx, newJob(t, "mis-alpha", old.Add(time.Duration(i)*time.Second)))
		require.NoError(t, err)
		if i%2 == 0 {
			broken = append(broken, j.ID)
			statements = append(statements, `UPDATE async_jobs SET eta = 'infinity' WHERE id = '`+j.ID.String()+`'`)
			continue
		}
		others = append(others, j.ID)
	}
	pgtest.WriteUnchecked(t, b.db, statements...)

	n, err := jobs.FailPendingCreatedBefore(ctx, time.Now().Add(-time.Hour), domain.TimedOut(time.Now()), 2)
	require.NoError(t, err, "a row the sweep cannot update failed the whole batch")
	require.Equal(t, 2, n)
	n, err = jobs.FailPendingCreatedBefore(ctx, time.Now().Add(-time.Hour), domain.TimedOut(time.Now()), 2)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	for _, id := range others {
		var status string
		require.NoError(t, b.db.GetContext(ctx, &status, `SELECT status FROM async_jobs WHERE id = $1`, id.String()))
		require.Equal(t, "FAILED", status)
	}

	o, err := domain.Done([]domain.Link{{Entity: domain.CompositionEntity, Href: "/c"}}, time.Now())
	require.NoError(t, err)
	_, _, err = jobs.Finish(ctx, broken[0], o)
	require.ErrorContains(t, err, "async_jobs_eta_range")
	for _, id := range broken {
		var status string
		require.NoError(t, b.db.GetContext(ctx, &status, `SELECT status FROM async_jobs WHERE id = $1`, id.String()))
		require.Equal(t, "PENDING", status, "left as it was")
	}
}

// TestDurationsPassTimesThatAreNoDates: the eta estimate's durations and
// the report's time to done leave out a DONE job whose creation or finish
// is no date (PostgreSQL cannot subtract 'infinity': one such job among
// the newest failed every refresh of the estimate, and the report), and
// a job finished centuries after its creation takes the longest duration
// there is (it came out negative).
func TestDurationsPassTimesThatAreNoDates(t *testing.T) {
	t.Parallel()
	jobs, b := setupLog(t)
	ctx := context.Background()
	now := time.Now()
	var statements []string
	for _, set := range []string{
		done + `, finished_at = 'infinity'`,
		done + `, created_at = '-infinity'`,
		done + `, finished_at = now() + interval '400 years'`,
		done,
	} {
		j, _, err := jobs.Create(ctx, newJob(t, "mis-alpha", now.Add(-time.Minute)))
		require.NoError(t, err)
		statements = append(statements, updateRow(set, j.ID))
	}
	pgtest.WriteUnchecked(t, b.db, statements...)

	durations, err := jobs.RecentDurations(ctx, 10)
	require.NoError(t, err)
	require.Len(t, durations, 2, "the finite ones")
	for _, d := range durations {
		require.Positive(t, d)
	}
	require.Equal(t, time.Duration(math.MaxInt64), durations[0], "400 years: the longest a time.Duration holds")

	quantiles, n, err := jobs.TimeToDone(ctx, ports.ReportFilter{From: now.Add(-time.Hour), To: now.Add(time.Hour)}, []float64{0, 1})
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	require.Positive(t, quantiles[0])
	require.Equal(t, time.Duration(math.MaxInt64), quantiles[1])
}
