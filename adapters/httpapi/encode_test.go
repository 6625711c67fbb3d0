package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strconv"
	"sync"
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

// TestAppendJSONStringIsEncodingJSON: every string, plain or not, comes out
// exactly as encoding/json writes it.
func TestAppendJSONStringIsEncodingJSON(t *testing.T) {
	t.Parallel()
	cases := []string{"", "plain", "/patients/composition/job/9f1c4f3e-0b1d-4c2a-8e3f-5a6b7c8d9e0f",
		"a\"b", `back\slash`, "<script>", "a&b", "tab\there", "nl\n", "\x00\x1f\x7f", "é", "\u2028\u2029",
		"\xff\xfe invalid", "%2F%3C", "日本", "~!@#$%^*()_+-=[]{}|;':,./?"}
	for i := range 256 {
		cases = append(cases, string([]byte{byte(i)}), "x"+string([]byte{byte(i)})+"y")
	}
	for _, s := range cases {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString([]byte("prefix"), s); string(got) != "prefix"+string(want) {
			t.Errorf("appendJSONString(%q) = %s, encoding/json writes %s", s, got[len("prefix"):], want)
		}
	}
}

// TestJobBodyIsTheEnvelope: the 200 body appended from the pre-encoded
// answer is byte for byte the JSON encoding of the envelope, for every
// status and for paths and request ids that need escaping.
func TestJobBodyIsTheEnvelope(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 10, 0, 0, 123_000_000, time.UTC)
	jobs := []domain.Job{
		{Version: 1, ID: domain.NewID(), ClientID: "mis-alpha", Status: domain.StatusPending, ETA: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now},
		{Version: 2, ID: domain.NewID(), ClientID: "mis-alpha", Status: domain.StatusDone, ETA: now, CreatedAt: now, UpdatedAt: now,
			Links: []domain.Link{{Entity: "composition", Href: "/patients/p/encounter/e/composition/c?<&>"}}},
		{Version: 3, ID: domain.NewID(), ClientID: "mis-alpha", Status: domain.StatusFailed, ETA: now, CreatedAt: now, UpdatedAt: now,
			Failure: &domain.Failure{Code: 422, Message: "Signature is \"not\" valid <é>\u2028"}},
	}
	enc, err := newAnswers(DefaultHandlerConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		for _, path := range []string{"/patients/composition/job/" + j.ID.String(), "/patients/composition/job/%3Cx%3E&\"", "/é"} {
			for _, rid := range []string{"", "0f3a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b", "a.b_c-D"} {
				req := httptest.NewRequest("GET", "/", nil)
				req.URL.Path, req.URL.RawPath = path, ""
				req = req.WithContext(context.WithValue(req.Context(), ctxKey{}, &requestInfo{id: rid}))
				for range 2 { // built, then pre-encoded
					w := httptest.NewRecorder()
					writeJob(w, req, app.JobStatus{Job: j, RetryAfter: time.Second}, enc)
					want, err := json.Marshal(struct {
						Data JobData `json:"data"`
						Meta Meta    `json:"meta"`
					}{toJobData(j), Meta{Code: 200, URL: req.URL.EscapedPath(), Type: "object", RequestID: rid}})
					if err != nil {
						t.Fatal(err)
					}
					if w.Body.String() != string(want) {
						t.Fatalf("%s %q:\n got %s\nwant %s", j.Status, path, w.Body, want)
					}
				}
			}
		}
	}
}

// TestSharedAnswersKeepEachRequestsJob: many requests answered at once for
// a few jobs, as when one change wakes every held request (all of them
// missing the cache together), each get their own job's body, ETag and
// Cache-Control and their own meta, whether their answer was built, kept or
// shared; an answer of an older version or another job is never served,
// and a cache smaller than its shards still keeps answers.
func TestSharedAnswersKeepEachRequestsJob(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	var jobs []domain.Job
	for i := range 40 {
		st := domain.StatusPending
		if i%2 == 1 {
			st = domain.StatusDone
		}
		jobs = append(jobs, domain.Job{Version: int64(i + 1), ID: domain.NewID(), ClientID: "mis-" + strconv.Itoa(i%3),
			Status: st, ETA: now.Add(time.Duration(i) * time.Minute), CreatedAt: now, UpdatedAt: now})
	}
	for _, size := range []int{1, 7, 10_000} {
		t.Run("Cache"+strconv.Itoa(size), func(t *testing.T) {
			t.Parallel()
			cfg := DefaultHandlerConfig()
			cfg.EncodedAnswers = size
			enc, err := newAnswers(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 1)
			for n := range 2000 {
				wg.Go(func() {
					j := jobs[n%len(jobs)]
					if n%3 == 0 { // the job's next version: its answer replaces the kept one
						j.Version += 100
					}
					rid := "req-" + strconv.Itoa(n)
					req := httptest.NewRequest("GET", "/patients/composition/job/"+j.ID.String(), nil)
					req = req.WithContext(context.WithValue(req.Context(), ctxKey{}, &requestInfo{id: rid}))
					w := httptest.NewRecorder()
					writeJob(w, req, app.JobStatus{Job: j, RetryAfter: time.Second}, enc)
					want, _ := json.Marshal(struct {
						Data JobData `json:"data"`
						Meta Meta    `json:"meta"`
					}{toJobData(j), Meta{Code: 200, URL: req.URL.EscapedPath(), Type: "object", RequestID: rid}})
					cacheControl := "no-store"
					if j.Status.Terminal() {
						cacheControl = "private, max-age=3600"
					}
					if w.Body.String() != string(want) || w.Header().Get("ETag") != jobETag(j) || w.Header().Get("Cache-Control") != cacheControl {
						select {
						case errs <- fmt.Errorf("request %d for %s v%d: got %s ETag %s Cache-Control %s", n, j.ID, j.Version,
							w.Body, w.Header().Get("ETag"), w.Header().Get("Cache-Control")):
						default:
						}
					}
				})
			}
			wg.Wait()
			select {
			case err := <-errs:
				t.Fatal(err)
			default:
			}
			j := jobs[0]
			first, _ := enc.of(j)
			if again, _ := enc.of(j); again != first {
				t.Fatal("an answer built without contention is kept and shared")
			}
		})
	}
}
