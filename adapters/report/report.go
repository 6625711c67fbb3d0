// Package report writes reports as CSV, JSON or a text table, row by row as
// the use case produces them, so memory stays flat however long the report.
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/internal/termtext"
	"github.com/jobstatus/jobstatus/ports"
)

// Formats lists the supported formats.
var Formats = []string{"csv", "json", "table"}

// Header describes the report for writers that print it.
type Header struct {
	From, To time.Time
	ClientID string
}

// New returns a sink writing format to w.
func New(format string, w io.Writer, h Header) (app.ReportSink, error) {
	switch format {
	case "csv":
		return newCSV(w), nil
	case "json":
		return &jsonSink{w: w, h: h}, nil
	case "table":
		return &tableSink{w: w}, nil
	}
	return nil, fmt.Errorf("unknown report format %q (csv, json or table)", format)
}

const day = "2006-01-02"

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// csvSink writes one tidy table: every value on its own line.
type csvSink struct {
	w      *csv.Writer
	header bool
}

func newCSV(w io.Writer) *csvSink { return &csvSink{w: csv.NewWriter(w)} }

func (s *csvSink) write(rec ...string) error {
	if !s.header {
		s.header = true
		if err := s.w.Write([]string{"kind", "day", "client_id", "status", "failure_code", "failure_message", "percentile", "value"}); err != nil {
			return err
		}
	}
	return s.w.Write(rec)
}

func (s *csvSink) Row(r ports.DailyCount) error {
	return s.write("jobs", r.Day.Format(day), r.ClientID, string(r.Status), "", "", "", strconv.FormatInt(r.Jobs, 10))
}

func (s *csvSink) Summary(sum app.ReportSummary) error {
	if err := s.write("done_jobs", "", "", "", "", "", "", strconv.FormatInt(sum.DoneJobs, 10)); err != nil {
		return err
	}
	for _, p := range app.ReportPercentiles() {
		if err := s.write("time_to_done_seconds", "", "", "", "", "", strconv.Itoa(p), seconds(sum.TimeToDone[p])); err != nil {
			return err
		}
	}
	for _, f := range sum.Failures {
		if err := s.write("failures", "", "", "", strconv.Itoa(f.Code), f.Message, "", strconv.FormatInt(f.Jobs, 10)); err != nil {
			return err
		}
	}
	s.w.Flush()
	return s.w.Error()
}

// jsonSink writes one object, its daily array streamed element by element.
type jsonSink struct {
	w    io.Writer
	h    Header
	rows int
}

type jsonRow struct {
	Day      string `json:"day"`
	ClientID string `json:"client_id"`
	Status   string `json:"status"`
	Jobs     int64  `json:"jobs"`
}

func (s *jsonSink) open() error {
	head, err := json.Marshal(struct {
		From     string `json:"from"`
		To       string `json:"to"`
		ClientID string `json:"client_id,omitempty"`
	}{s.h.From.Format(day), s.h.To.Format(day), s.h.ClientID})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(s.w, "%s,\"daily\":[", head[:len(head)-1])
	return err
}

func (s *jsonSink) Row(r ports.DailyCount) error {
	if s.rows == 0 {
		if err := s.open(); err != nil {
			return err
		}
	}
	b, err := json.Marshal(jsonRow{r.Day.Format(day), r.ClientID, string(r.Status), r.Jobs})
	if err != nil {
		return err
	}
	sep := ",\n"
	if s.rows == 0 {
		sep = "\n"
	}
	s.rows++
	_, err = fmt.Fprintf(s.w, "%s%s", sep, b)
	return err
}

func (s *jsonSink) Summary(sum app.ReportSummary) error {
	if s.rows == 0 {
		if err := s.open(); err != nil {
			return err
		}
	}
	type failure struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Jobs    int64  `json:"jobs"`
	}
	tail := struct {
		DoneJobs   int64              `json:"done_jobs"`
		TimeToDone map[string]float64 `json:"time_to_done_seconds"`
		Failures   []failure          `json:"top_failures"`
	}{DoneJobs: sum.DoneJobs, TimeToDone: map[string]float64{}, Failures: []failure{}}
	for _, p := range app.ReportPercentiles() {
		v, _ := strconv.ParseFloat(seconds(sum.TimeToDone[p]), 64)
		tail.TimeToDone["p"+strconv.Itoa(p)] = v
	}
	for _, f := range sum.Failures {
		tail.Failures = append(tail.Failures, failure{f.Code, f.Message, f.Jobs})
	}
	b, err := json.Marshal(tail)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(s.w, "\n],%s\n", b[1:])
	return err
}

// tableSink writes fixed-width columns as rows arrive, for people at a
// terminal: failure messages are escaped (termtext), one line each.
type tableSink struct {
	w    io.Writer
	rows int
}

func (s *tableSink) Row(r ports.DailyCount) error {
	if s.rows == 0 {
		if _, err := fmt.Fprintf(s.w, "%-10s  %-24s  %-7s  %10s\n", "DAY", "CLIENT", "STATUS", "JOBS"); err != nil {
			return err
		}
	}
	s.rows++
	_, err := fmt.Fprintf(s.w, "%-10s  %-24s  %-7s  %10d\n", r.Day.Format(day), r.ClientID, r.Status, r.Jobs)
	return err
}

func (s *tableSink) Summary(sum app.ReportSummary) error {
	if s.rows == 0 {
		if _, err := fmt.Fprintln(s.w, "No jobs."); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(s.w, "\nTime to DONE over %d jobs: p50 %ss  p90 %ss  p99 %ss\n", sum.DoneJobs,
		seconds(sum.TimeToDone[50]), seconds(sum.TimeToDone[90]), seconds(sum.TimeToDone[99])); err != nil {
		return err
	}
	if len(sum.Failures) == 0 {
		_, err := fmt.Fprintln(s.w, "\nNo failures.")
		return err
	}
	if _, err := fmt.Fprintf(s.w, "\nTop failures:\n%6s  %10s  %s\n", "CODE", "JOBS", "MESSAGE"); err != nil {
		return err
	}
	for _, f := range sum.Failures {
		// A message is whatever a worker or hand-written SQL stored: its
		// control characters would be instructions to the terminal.
		if _, err := fmt.Fprintf(s.w, "%6d  %10d  %s\n", f.Code, f.Jobs, termtext.Escape(f.Message)); err != nil {
			return err
		}
	}
	return nil
}

// Progress wraps a sink and reports on w how many rows went through, at
// most every interval; for terminals only.
func Progress(next app.ReportSink, w io.Writer, interval time.Duration) app.ReportSink {
	return &progress{next: next, w: w, every: interval}
}

type progress struct {
	next  app.ReportSink
	w     io.Writer
	every time.Duration
	last  time.Time
	rows  int
}

func (p *progress) Row(r ports.DailyCount) error {
	p.rows++
	if now := time.Now(); now.Sub(p.last) >= p.every {
		p.last = now
		fmt.Fprintf(p.w, "\rreport: %d rows, at %s", p.rows, r.Day.Format(day))
	}
	return p.next.Row(r)
}

func (p *progress) Summary(s app.ReportSummary) error {
	fmt.Fprintf(p.w, "\rreport: %d rows, done.          \n", p.rows)
	return p.next.Summary(s)
}
