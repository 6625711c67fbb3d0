package postgres_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/pgtest"
)

// done is the SET list that makes a row DONE.
const done = `status = 'DONE', links = '[{"entity": "composition", "href": "/c"}]', finished_at = now()`

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
