package domain_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jobstatus/jobstatus/domain"
)

var (
	t0   = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	link = domain.Link{Entity: domain.CompositionEntity, Href: "/patients/p/encounter/e/composition/c"}
)

func pendingJob(t *testing.T) domain.Job {
	t.Helper()
	j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "mis-alpha", ETA: t0.Add(time.Minute), Now: t0})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return j
}

func TestStatuses(t *testing.T) {
	t.Parallel()
	got := domain.Statuses()
	want := []domain.Status{domain.StatusPending, domain.StatusDone, domain.StatusFailed}
	if !slices.Equal(got, want) {
		t.Fatalf("Statuses() = %v, want %v", got, want)
	}
	for _, s := range got {
		if !s.Valid() {
			t.Errorf("%s.Valid() = false", s)
		}
		if s.Terminal() != (s != domain.StatusPending) {
			t.Errorf("%s.Terminal() = %v", s, s.Terminal())
		}
	}
	if domain.Status("pending").Valid() {
		t.Error(`Status("pending") must not be valid: statuses are exact`)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params domain.NewParams
		field  string
	}{
		{"StartsPending", domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: t0, Now: t0}, ""},
		{"BadID", domain.NewParams{ID: "nope", ClientID: "c", ETA: t0, Now: t0}, "id"},
		{"NoClient", domain.NewParams{ID: domain.NewID(), ClientID: " ", ETA: t0, Now: t0}, "client"},
		{"ClientWithSpace", domain.NewParams{ID: domain.NewID(), ClientID: "bad id!", ETA: t0, Now: t0}, "client"},
		{"ClientTooLong", domain.NewParams{ID: domain.NewID(), ClientID: strings.Repeat("c", 256), ETA: t0, Now: t0}, "client"},
		{"ClientLongest", domain.NewParams{ID: domain.NewID(), ClientID: strings.Repeat("c", 255), ETA: t0, Now: t0}, ""},
		{"ClientControl", domain.NewParams{ID: domain.NewID(), ClientID: "mis\talpha", ETA: t0, Now: t0}, "client"},
		{"ClientNonASCII", domain.NewParams{ID: domain.NewID(), ClientID: "mis-é", ETA: t0, Now: t0}, "client"},
		{"NoETA", domain.NewParams{ID: domain.NewID(), ClientID: "c", Now: t0}, "eta"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j, err := domain.New(tt.params)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if j.Status != domain.StatusPending || j.Links == nil || len(j.Links) != 0 || j.Failure != nil || j.FinishedAt != nil {
					t.Fatalf("New() = %+v, want a bare PENDING job", j)
				}
				return
			}
			var v *domain.ValidationError
			if !errors.As(err, &v) || v.Field != tt.field {
				t.Fatalf("New() error = %v, want ValidationError on %s", err, tt.field)
			}
		})
	}
}

func TestIdempotencyKeyRule(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct {
		key   string
		valid bool
	}{
		"Printable":   {"sign-4711 #2", true},
		"Longest":     {strings.Repeat("k", domain.MaxIdempotencyKeyLength), true},
		"Empty":       {"", false},
		"TooLong":     {strings.Repeat("k", domain.MaxIdempotencyKeyLength+1), false},
		"NonASCII":    {"clé", false},
		"Tab":         {"a\tb", false},
		"Delete":      {"a\x7f", false},
		"InvalidUTF8": {"k\xfe", false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := domain.ValidIdempotencyKey(tt.key); got != tt.valid {
				t.Fatalf("ValidIdempotencyKey(%q) = %v, want %v", tt.key, got, tt.valid)
			}
			_, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "mis", IdempotencyKey: tt.key, ETA: t0, Now: t0})
			if tt.valid || tt.key == "" { // no key: an ordinary create
				if err != nil {
					t.Fatalf("New with key %q: %v", tt.key, err)
				}
				return
			}
			assertField(t, err, "idempotency_key")
		})
	}
}

func TestOutcomeRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		make  func() (domain.Outcome, error)
		field string
	}{
		{"DoneWithLink", func() (domain.Outcome, error) { return domain.Done([]domain.Link{link}, t0) }, ""},
		{"DoneNeedsALink", func() (domain.Outcome, error) { return domain.Done(nil, t0) }, "links"},
		{"DoneNeedsEntity", func() (domain.Outcome, error) {
			return domain.Done([]domain.Link{{Href: "/x"}}, t0)
		}, "links"},
		{"DoneNeedsACompositionLink", func() (domain.Outcome, error) {
			return domain.Done([]domain.Link{{Entity: "encounter", Href: "/patients/p1/encounter/e1"}}, t0)
		}, "links"},
		{"DoneWithACompositionLinkAmongOthers", func() (domain.Outcome, error) {
			return domain.Done([]domain.Link{{Entity: "encounter", Href: "/patients/p1/encounter/e1"}, link}, t0)
		}, ""},
		{"DoneNeedsAbsolutePath", func() (domain.Outcome, error) {
			return domain.Done([]domain.Link{{Entity: "composition", Href: "http://evil.example/x"}}, t0)
		}, "links"},
		{"FailedWithReason", func() (domain.Outcome, error) { return domain.Failed(422, "bad signature", t0) }, ""},
		{"FailedNeedsCode", func() (domain.Outcome, error) { return domain.Failed(0, "bad signature", t0) }, "code"},
		{"FailedNegativeCode", func() (domain.Outcome, error) { return domain.Failed(-5, "bad signature", t0) }, "code"},
		{"FailedCodeAbove999", func() (domain.Outcome, error) { return domain.Failed(1000, "bad signature", t0) }, "code"},
		{"FailedCode1", func() (domain.Outcome, error) { return domain.Failed(1, "bad signature", t0) }, ""},
		{"FailedCode999", func() (domain.Outcome, error) { return domain.Failed(999, "bad signature", t0) }, ""},
		{"FailedNeedsMessage", func() (domain.Outcome, error) { return domain.Failed(422, "  ", t0) }, "message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.make()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var v *domain.ValidationError
			if !errors.As(err, &v) || v.Field != tt.field {
				t.Fatalf("error = %v, want ValidationError on %s", err, tt.field)
			}
		})
	}
}

func TestFinish(t *testing.T) {
	t.Parallel()
	done, _ := domain.Done([]domain.Link{link}, t0.Add(time.Second))
	doneOther, _ := domain.Done([]domain.Link{{Entity: "composition", Href: "/other"}}, t0.Add(2*time.Second))
	failed, _ := domain.Failed(500, "registry error", t0.Add(time.Second))
	failedOther, _ := domain.Failed(504, "job timed out", t0.Add(2*time.Second))

	finished := func(t *testing.T, o domain.Outcome) domain.Job {
		j, changed, err := pendingJob(t).Finish(o)
		if err != nil || !changed {
			t.Fatalf("Finish(%s) = %v, %v", o.Status, changed, err)
		}
		return j
	}

	tests := []struct {
		name        string
		job         func(t *testing.T) domain.Job
		outcome     domain.Outcome
		wantChanged bool
		wantErr     error
		wantStatus  domain.Status
	}{
		{"PendingToDone", pendingJob, done, true, nil, domain.StatusDone},
		{"PendingToFailed", pendingJob, failed, true, nil, domain.StatusFailed},
		{"DoneRepeatedIsNoop", func(t *testing.T) domain.Job { return finished(t, done) }, done, false, nil, domain.StatusDone},
		{"DoneRepeatedLaterIsNoop", func(t *testing.T) domain.Job { return finished(t, done) },
			domain.Outcome{Status: domain.StatusDone, Links: done.Links, At: t0.Add(time.Hour)}, false, nil, domain.StatusDone},
		{"DoneWithOtherLinksConflicts", func(t *testing.T) domain.Job { return finished(t, done) }, doneOther, false, domain.ErrConflict, domain.StatusDone},
		{"DoneThenFailedConflicts", func(t *testing.T) domain.Job { return finished(t, done) }, failed, false, domain.ErrConflict, domain.StatusDone},
		{"FailedRepeatedIsNoop", func(t *testing.T) domain.Job { return finished(t, failed) }, failed, false, nil, domain.StatusFailed},
		{"FailedWithOtherReasonConflicts", func(t *testing.T) domain.Job { return finished(t, failed) }, failedOther, false, domain.ErrConflict, domain.StatusFailed},
		{"FailedThenDoneConflicts", func(t *testing.T) domain.Job { return finished(t, failed) }, done, false, domain.ErrConflict, domain.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := tt.job(t)
			after, changed, err := before.Finish(tt.outcome)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Finish error = %v, want %v", err, tt.wantErr)
			}
			if changed != tt.wantChanged {
				t.Fatalf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if after.Status != tt.wantStatus {
				t.Fatalf("status = %s, want %s", after.Status, tt.wantStatus)
			}
			if !changed && (after.UpdatedAt != before.UpdatedAt || !slices.Equal(after.Links, before.Links)) {
				t.Fatalf("a finished job changed: %+v -> %+v", before, after)
			}
			if changed {
				if after.FinishedAt == nil || !after.FinishedAt.Equal(tt.outcome.At) {
					t.Fatalf("FinishedAt = %v, want %v", after.FinishedAt, tt.outcome.At)
				}
				if (after.Status == domain.StatusFailed) != (after.Failure != nil) {
					t.Fatalf("Failure = %+v for status %s", after.Failure, after.Status)
				}
			}
		})
	}

	t.Run("PendingIsNotAnOutcome", func(t *testing.T) {
		t.Parallel()
		_, _, err := pendingJob(t).Finish(domain.Outcome{Status: domain.StatusPending})
		var v *domain.ValidationError
		if !errors.As(err, &v) {
			t.Fatalf("error = %v, want ValidationError", err)
		}
	})
}

func TestVisibleTo(t *testing.T) {
	t.Parallel()
	j := pendingJob(t)
	if !j.VisibleTo("mis-alpha") || j.VisibleTo("mis-beta") || j.VisibleTo("") {
		t.Fatal("a job must be visible to its own client only")
	}
}

func TestPrincipalRequire(t *testing.T) {
	t.Parallel()
	p := domain.Principal{ClientID: "c", Scopes: []string{"composition:write", "Composition:read"}}
	err := p.Require(domain.ScopeCompositionRead)
	var f *domain.ForbiddenError
	if !errors.As(err, &f) || !slices.Equal(f.MissingScopes, []string{domain.ScopeCompositionRead}) {
		t.Fatalf("Require = %v; scopes match exactly and case-sensitively", err)
	}
	p.Scopes = append(p.Scopes, domain.ScopeCompositionRead)
	if err := p.Require(domain.ScopeCompositionRead); err != nil {
		t.Fatalf("Require = %v, want nil", err)
	}
}

// TestCheckETA: one eta rule for every transport: over zero, at most a day.
func TestCheckETA(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{time.Nanosecond, 30 * time.Second, domain.MaxETA} {
		if err := domain.CheckETA(d); err != nil {
			t.Errorf("CheckETA(%s) = %v, want nil", d, err)
		}
	}
	for _, d := range []time.Duration{0, -time.Second, domain.MaxETA + time.Nanosecond, 48 * time.Hour} {
		var v *domain.ValidationError
		if err := domain.CheckETA(d); !errors.As(err, &v) || v.Error() != "invalid eta: "+domain.ETARule {
			t.Errorf("CheckETA(%s) = %v, want invalid eta: %s", d, err, domain.ETARule)
		}
	}
}
