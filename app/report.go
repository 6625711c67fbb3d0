package app

import (
	"context"
	"time"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// Report asks for the activity of the days From..To (inclusive, UTC),
// optionally of one client.
type Report struct {
	From, To time.Time
	ClientID string
	// TopFailures is how many failure codes to list; it must be positive.
	TopFailures int
}

// ReportSummary closes a report.
type ReportSummary struct {
	DoneJobs   int64                 // DONE jobs the percentiles cover
	TimeToDone map[int]time.Duration // percentile (50, 90, 99) → duration
	Failures   []ports.FailureCount
}

// ReportSink receives a report as it is produced: rows first, in order,
// then the summary. Writers stream them; nothing is held in memory.
type ReportSink interface {
	Row(ports.DailyCount) error
	Summary(ReportSummary) error
}

// ReportHandler handles Report.
type ReportHandler struct {
	source ports.ReportSource
}

// NewReportHandler returns a ReportHandler, or an error for a nil
// dependency.
func NewReportHandler(source ports.ReportSource) (ReportHandler, error) {
	if source == nil {
		return ReportHandler{}, missing("ReportHandler", "a report source")
	}
	return ReportHandler{source: source}, nil
}

// ReportPercentiles lists the percentiles of time to DONE a report
// carries, in order; sinks write them in this order.
func ReportPercentiles() []int { return []int{50, 90, 99} }

// Validate returns a *domain.ValidationError for a report that cannot be
// made: no top failures, a missing day, to before from, a client id no job
// can carry. Handle applies it; a command checks it before it connects.
func (r Report) Validate() error {
	if r.TopFailures <= 0 {
		return &domain.ValidationError{Field: "top_failures", Reason: "must be positive"}
	}
	from, to := r.days()
	if from.IsZero() || to.IsZero() {
		return &domain.ValidationError{Field: "from/to", Reason: "both dates are required"}
	}
	if to.Before(from) {
		return &domain.ValidationError{Field: "to", Reason: "must not be before from"}
	}
	if r.ClientID != "" {
		// The one client-id rule: an id no job can carry is bad input, and
		// one the store could not compare is not a driver error either.
		if err := domain.CheckClientID("client", r.ClientID); err != nil {
			return err
		}
	}
	return nil
}

// days returns the report's first and last day, as UTC midnights.
func (r Report) days() (from, to time.Time) {
	return r.From.UTC().Truncate(24 * time.Hour), r.To.UTC().Truncate(24 * time.Hour)
}

// Handle streams the report into sink.
func (h ReportHandler) Handle(ctx context.Context, r Report, sink ReportSink) error {
	if h.source == nil {
		return errUnwired
	}
	if err := r.Validate(); err != nil {
		return err
	}
	from, to := r.days()
	f := ports.ReportFilter{From: from, To: to.Add(24 * time.Hour), ClientID: r.ClientID}
	if err := h.source.DailyCounts(ctx, f, sink.Row); err != nil {
		return err
	}
	percentiles := ReportPercentiles()
	qs := make([]float64, len(percentiles))
	for i, p := range percentiles {
		qs[i] = float64(p) / 100
	}
	durations, done, err := h.source.TimeToDone(ctx, f, qs)
	if err != nil {
		return err
	}
	failures, err := h.source.TopFailures(ctx, f, r.TopFailures)
	if err != nil {
		return err
	}
	s := ReportSummary{DoneJobs: done, TimeToDone: map[int]time.Duration{}, Failures: failures}
	for i, p := range percentiles {
		if i < len(durations) {
			s.TimeToDone[p] = durations[i]
		}
	}
	return sink.Summary(s)
}
