package report_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/report"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

var day = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func feed(t *testing.T, sink app.ReportSink, rows int) {
	t.Helper()
	for i := range rows {
		require.NoError(t, sink.Row(ports.DailyCount{Day: day.Add(time.Duration(i) * 24 * time.Hour), ClientID: "mis-alpha",
			Status: domain.StatusDone, Jobs: int64(i + 1)}))
	}
	require.NoError(t, sink.Summary(app.ReportSummary{DoneJobs: 3,
		TimeToDone: map[int]time.Duration{50: time.Second, 90: 2 * time.Second, 99: 3 * time.Second},
		Failures:   []ports.FailureCount{{Code: 422, Message: `bad, "quoted"`, Jobs: 2}}}))
}

func TestEmptyReports(t *testing.T) {
	t.Parallel()
	for _, format := range report.Formats {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			sink, err := report.New(format, &out, report.Header{From: day, To: day})
			require.NoError(t, err)
			feed(t, sink, 0)
			require.NotEmpty(t, out.String())
		})
	}
	_, err := report.New("xml", &bytes.Buffer{}, report.Header{})
	require.Error(t, err)
}

func TestCSVQuotes(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	sink, err := report.New("csv", &out, report.Header{})
	require.NoError(t, err)
	feed(t, sink, 1)
	require.Contains(t, out.String(), `failures,,,,422,"bad, ""quoted""",,2`)
}

func TestProgressCountsRows(t *testing.T) {
	t.Parallel()
	var out, progress bytes.Buffer
	sink, err := report.New("json", &out, report.Header{From: day, To: day})
	require.NoError(t, err)
	feed(t, report.Progress(sink, &progress, 0), 5)
	require.Contains(t, progress.String(), "report: 5 rows, done.")
	require.Equal(t, 5, strings.Count(out.String(), `"client_id":"mis-alpha"`))
}

// TestTableEscapesMessages: the table is read on a terminal, and a failure
// message is whatever a worker or hand-written SQL stored: its escape
// sequences were written raw (ESC [ 2 J cleared the operator's screen), and
// a newline broke the table. The other formats are data and keep it.
func TestTableEscapesMessages(t *testing.T) {
	t.Parallel()
	msg := "bad\x1b[2J\x1b]52;c;aGk=\a\nsigned\u202e"
	sum := app.ReportSummary{TimeToDone: map[int]time.Duration{}, Failures: []ports.FailureCount{{Code: 422, Message: msg, Jobs: 2}}}
	var table bytes.Buffer
	sink, err := report.New("table", &table, report.Header{})
	require.NoError(t, err)
	require.NoError(t, sink.Summary(sum))
	require.Contains(t, table.String(), "   422           2  "+`bad\x1b[2J\x1b]52;c;aGk=\a\nsigned\u202e`+"\n")
	require.NotContains(t, table.String(), "\x1b")
	var csv bytes.Buffer
	sink, err = report.New("csv", &csv, report.Header{})
	require.NoError(t, err)
	require.NoError(t, sink.Summary(sum))
	require.Contains(t, csv.String(), msg)
}
