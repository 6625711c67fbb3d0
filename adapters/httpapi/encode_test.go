package httpapi

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
)

// BenchmarkEncodeJob is the JSON side of an answer: data, ETag, meta;
// Fresh encodes the job every time, PreEncoded reuses its answer (one per
// job version), as the service does.
func BenchmarkEncodeJob(b *testing.B) {
	now := time.Now()
	st := app.JobStatus{Job: domain.Job{Version: 7,
		ID: domain.NewID(), ClientID: "mis-alpha", Status: domain.StatusDone, ETA: now, CreatedAt: now, UpdatedAt: now,
		Links: []domain.Link{{Entity: "composition",
			Href: "/patients/5e0c2a54-0b59-4a8c-9d0e-1c4f3b2a1d00/encounter/7b1d2c3e-4f50-4a6b-8c7d-9e0f1a2b3c4d/composition/0f3a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b"}},
	}}
	req := httptest.NewRequest("GET", "/patients/composition/job/"+st.Job.ID.String(), nil)
	for _, size := range []struct {
		name    string
		answers int
	}{{"Fresh", 0}, {"PreEncoded", 1000}} {
		b.Run(size.name, func(b *testing.B) {
			cfg := DefaultHandlerConfig()
			cfg.EncodedAnswers = size.answers
			enc, err := newAnswers(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				writeJob(w, req, st, enc)
			}
		})
	}
}
