package app_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// fakeClock is a settable ports.Clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

type fakeTokens map[string]domain.Principal

func (f fakeTokens) Verify(_ context.Context, token string) (domain.Principal, error) {
	if p, ok := f[token]; ok {
		return p, nil
	}
	return domain.Principal{}, &domain.AuthError{Credential: domain.CredentialToken, Reason: "unknown"}
}

type fakeClients map[string]string

func (f fakeClients) ClientByAPIKey(_ context.Context, key string) (domain.Client, error) {
	if id, ok := f[key]; ok {
		return domain.Client{ID: id}, nil
	}
	return domain.Client{}, &domain.AuthError{Credential: domain.CredentialAPIKey, Reason: "unknown"}
}

type testBundle struct {
	clock    *fakeClock
	repo     *memory.Jobs
	operator *app.Operator
	eta      *app.ETA
}

// services is the use cases a test drives: what the public API may call
// and what operators may.
type services struct {
	*app.Public
	*app.Operator
	Changes *app.Changes
}

// testETA is the estimator configuration of the tests.
var testETA = app.ETAConfig{Default: 30 * time.Second, Percentile: 0.9, Window: 500, MinSamples: 20, Min: time.Second, Max: time.Hour}

// wire builds both halves of the use cases over repo.
func wire(t *testing.T, repo *memory.Jobs, clock ports.Clock, changes *app.Changes, eta app.ETAConfig, polling app.PollingConfig) (services, *app.ETA) {
	t.Helper()
	est, err := app.NewETA(eta, repo)
	require.NoError(t, err)
	pub, err := app.NewPublic(app.PublicDeps{
		Jobs:    repo,
		Tokens:  fakeTokens{"tok-a": reader, "tok-b": {ClientID: "mis-beta", Scopes: []string{domain.ScopeCompositionRead}}},
		Clients: fakeClients{"key-a": "mis-alpha", "key-b": "mis-beta"},
		Limits:  ports.Unlimited{},
		Clock:   clock, ETA: est, Changes: changes, Polling: polling,
		Lister: repo, Feed: mustFeed(t, repo), List: app.ListConfig{DefaultPageSize: 2, MaxPageSize: 3},
	})
	require.NoError(t, err)
	op, err := app.NewOperator(app.OperatorDeps{Jobs: repo, Maintenance: repo, Reports: repo, Clock: clock, ETA: est, Batch: 2})
	require.NoError(t, err)
	return services{Public: pub, Operator: op, Changes: changes}, est
}

var reader = domain.Principal{ClientID: "mis-alpha", Subject: "doc", Scopes: []string{domain.ScopeCompositionRead}}

// setup wires the use cases to the memory repository directly: no HTTP, no
// fx. This is how a batch tool reuses them in-process.
func setup(t *testing.T) (services, *testBundle) {
	t.Helper()
	b := &testBundle{clock: &fakeClock{now: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}, repo: memory.NewJobs()}
	changes, err := app.NewChanges(10)
	require.NoError(t, err)
	a, est := wire(t, b.repo, b.clock, changes, testETA, app.PollingConfig{MaxWait: 30 * time.Second, MaxRetryAfter: 30 * time.Second})
	b.operator, b.eta = a.Operator, est
	return a, b
}

func TestInProcessLifecycle(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()

	created, err := a.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-alpha", ETA: 45 * time.Second})
	require.NoError(t, err)
	require.Equal(t, domain.StatusPending, created.Status)
	require.Equal(t, b.clock.Now().Add(45*time.Second), created.ETA)

	got, err := a.GetJobStatus.Handle(ctx, app.GetJobStatus{Principal: reader, ID: created.ID.String()})
	require.NoError(t, err)
	require.Equal(t, created, got.Job)

	b.clock.Advance(10 * time.Second)
	links := []domain.Link{{Entity: "composition", Href: "/patients/p/encounter/e/composition/c"}}
	done, err := a.CompleteJob.Handle(ctx, app.CompleteJob{ID: created.ID.String(), Links: links})
	require.NoError(t, err)
	require.Equal(t, domain.StatusDone, done.Status)
	require.Equal(t, b.clock.Now(), *done.FinishedAt)

	again, err := a.CompleteJob.Handle(ctx, app.CompleteJob{ID: created.ID.String(), Links: links})
	require.NoError(t, err, "repeating the same outcome is a no-op")
	require.Equal(t, done, again)

	_, err = a.FailJob.Handle(ctx, app.FailJob{ID: created.ID.String(), Code: 500, Message: "late failure"})
	require.ErrorIs(t, err, domain.ErrConflict)
}

// TestReportRefusesInvalidClient: the report's client filter follows the
// one client-id rule; empty means every client.
func TestReportRefusesInvalidClient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for name, tt := range map[string]struct {
		client string
		valid  bool
	}{
		"Every":    {"", true},
		"Valid":    {"mis-alpha", true},
		"Space":    {"bad id!", false},
		"TooLong":  {strings.Repeat("c", 256), false},
		"NonASCII": {"mis-é", false},
		"BadUTF8":  {"mis\xff", false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, b := setup(t)
			err := b.operator.Report.Handle(ctx, app.Report{From: day, To: day, ClientID: tt.client, TopFailures: 1}, nopSink{})
			if tt.valid {
				require.NoError(t, err)
				return
			}
			var v *domain.ValidationError
			require.ErrorAs(t, err, &v)
			require.Equal(t, "client", v.Field)
		})
	}
}

func TestCreateJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		in    app.CreateJob
		field string
	}{
		{"DefaultsIDAndETA", app.CreateJob{ClientID: "c"}, ""},
		{"GivenIDIsCanonicalised", app.CreateJob{ClientID: "c", ID: "89678F60-4CDC-4FE3-AE83-E8B3EBD35C59"}, ""},
		{"BadID", app.CreateJob{ClientID: "c", ID: "x"}, "id"},
		{"NoClient", app.CreateJob{}, "client"},
		{"NegativeETA", app.CreateJob{ClientID: "c", ETA: -time.Second}, "eta"},
		// The domain's bound, as the write API and the jobs command apply it.
		{"ETAOverADay", app.CreateJob{ClientID: "c", ETA: 48 * time.Hour}, "eta"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := setup(t)
			j, err := a.CreateJob.Handle(ctx, tt.in)
			if tt.field != "" {
				var v *domain.ValidationError
				require.True(t, errors.As(err, &v), "got %v", err)
				require.Equal(t, tt.field, v.Field)
				return
			}
			require.NoError(t, err)
			if tt.in.ID != "" {
				require.Equal(t, "89678f60-4cdc-4fe3-ae83-e8b3ebd35c59", j.ID.String())
			}
			require.Equal(t, b.clock.Now().Add(testETA.Default), j.ETA)
		})
	}
	t.Run("DuplicateID", func(t *testing.T) {
		t.Parallel()
		a, _ := setup(t)
		in := app.CreateJob{ClientID: "c", ID: domain.NewID().String()}
		_, err := a.CreateJob.Handle(ctx, in)
		require.NoError(t, err)
		_, err = a.CreateJob.Handle(ctx, in)
		require.ErrorIs(t, err, domain.ErrAlreadyExists)
	})
}

func TestGetJobStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, _ := setup(t)
	mine, err := a.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-alpha"})
	require.NoError(t, err)
	theirs, err := a.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-beta"})
	require.NoError(t, err)

	noScope := domain.Principal{ClientID: "mis-alpha", Scopes: []string{"composition:create"}}
	tests := []struct {
		name string
		p    domain.Principal
		id   string
		want func(t *testing.T, j domain.Job, err error)
	}{
		{"Own", reader, mine.ID.String(), func(t *testing.T, j domain.Job, err error) {
			require.NoError(t, err)
			require.Equal(t, mine.ID, j.ID)
		}},
		{"OthersIsNotFound", reader, theirs.ID.String(), func(t *testing.T, _ domain.Job, err error) {
			require.ErrorIs(t, err, domain.ErrNotFound)
		}},
		{"MissingIsNotFound", reader, domain.NewID().String(), func(t *testing.T, _ domain.Job, err error) {
			require.ErrorIs(t, err, domain.ErrNotFound)
		}},
		{"ScopeBeforeFormat", noScope, "nope", func(t *testing.T, _ domain.Job, err error) {
			var f *domain.ForbiddenError
			require.True(t, errors.As(err, &f), "got %v", err)
		}},
		{"BadFormat", reader, "nope", func(t *testing.T, _ domain.Job, err error) {
			var v *domain.ValidationError
			require.True(t, errors.As(err, &v), "got %v", err)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, err := a.GetJobStatus.Handle(ctx, app.GetJobStatus{Principal: tt.p, ID: tt.id})
			tt.want(t, st.Job, err)
		})
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, _ := setup(t)
	tests := []struct {
		name  string
		creds app.Credentials
		cred  domain.Credential // "" means success
	}{
		{"Valid", app.Credentials{Token: "tok-a", APIKey: "key-a"}, ""},
		{"NoAPIKey", app.Credentials{Token: "tok-a"}, domain.CredentialAPIKey},
		{"NoToken", app.Credentials{APIKey: "key-a"}, domain.CredentialToken},
		{"UnknownAPIKey", app.Credentials{Token: "tok-a", APIKey: "key-x"}, domain.CredentialAPIKey},
		{"BadToken", app.Credentials{Token: "tok-x", APIKey: "key-a"}, domain.CredentialToken},
		{"ClientMismatch", app.Credentials{Token: "tok-b", APIKey: "key-a"}, domain.CredentialToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := a.Authenticate.Handle(ctx, tt.creds)
			if tt.cred == "" {
				require.NoError(t, err)
				require.Equal(t, "mis-alpha", p.ClientID)
				return
			}
			var ae *domain.AuthError
			require.True(t, errors.As(err, &ae), "got %v", err)
			require.Equal(t, tt.cred, ae.Credential)
		})
	}
}

func TestConstructorsRefuseMissingDeps(t *testing.T) {
	t.Parallel()
	repo := memory.NewJobs()
	clock := ports.ClockFunc(time.Now)
	est, err := app.NewETA(testETA, repo)
	require.NoError(t, err)
	changes, err := app.NewChanges(1)
	require.NoError(t, err)
	polling := app.PollingConfig{MaxWait: time.Second, MaxRetryAfter: time.Second}
	ctorErr := func(_ any, err error) error { return err }
	tests := []struct {
		name string
		err  error
	}{
		{"GetJobStatusWithoutRepo", ctorErr(app.NewGetJobStatusHandler(nil, clock, est, changes, polling))},
		{"GetJobStatusWithoutHub", ctorErr(app.NewGetJobStatusHandler(repo, clock, est, nil, polling))},
		{"GetJobStatusNegativeWait", ctorErr(app.NewGetJobStatusHandler(repo, clock, est, changes, app.PollingConfig{MaxWait: -1, MaxRetryAfter: time.Second}))},
		{"GetJobStatusZeroRetryAfter", ctorErr(app.NewGetJobStatusHandler(repo, clock, est, changes, app.PollingConfig{MaxWait: time.Second}))},
		{"CreateJobWithoutETA", ctorErr(app.NewCreateJobHandler(repo, clock, nil))},
		{"CompleteJobWithoutClock", ctorErr(app.NewCompleteJobHandler(repo, nil, est))},
		{"FailJobWithoutRepo", ctorErr(app.NewFailJobHandler(nil, clock))},
		{"GetJobWithoutRepo", ctorErr(app.NewGetJobHandler(nil))},
		{"AuthenticateWithoutVerifier", ctorErr(app.NewAuthenticateHandler(nil, fakeClients{}, ports.Unlimited{}))},
		{"AuthenticateWithoutLimiter", ctorErr(app.NewAuthenticateHandler(fakeTokens{}, fakeClients{}, nil))},
		{"ReportWithoutSource", ctorErr(app.NewReportHandler(nil))},
		{"SweepZeroBatch", ctorErr(app.NewSweepStaleHandler(repo, clock, 0))},
		{"PurgeNegativeBatch", ctorErr(app.NewPurgeJobsHandler(repo, clock, -1))},
		{"PurgeWithoutStore", ctorErr(app.NewPurgeJobsHandler(nil, clock, 1))},
		{"ChangesNegative", ctorErr(app.NewChanges(-1))},
		{"ETAWithoutSource", ctorErr(app.NewETA(testETA, nil))},
		{"PublicEmpty", ctorErr(app.NewPublic(app.PublicDeps{}))},
		{"OperatorWithoutReports", ctorErr(app.NewOperator(app.OperatorDeps{Jobs: repo, Maintenance: repo, Clock: clock, ETA: est, Batch: 1}))},
		{"OperatorZeroBatch", ctorErr(app.NewOperator(app.OperatorDeps{Jobs: repo, Maintenance: repo, Reports: repo, Clock: clock, ETA: est}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Error(t, tt.err)
		})
	}
}

// TestETAConfigRefusesZeroAndNegative: the estimator takes explicit values
// and substitutes none of its own.
func TestETAConfigRefusesZeroAndNegative(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*app.ETAConfig)
	}{
		{"ZeroDefault", func(c *app.ETAConfig) { c.Default = 0 }},
		{"NegativeDefault", func(c *app.ETAConfig) { c.Default = -time.Second }},
		{"ZeroPercentile", func(c *app.ETAConfig) { c.Percentile = 0 }},
		{"PercentileAboveOne", func(c *app.ETAConfig) { c.Percentile = 1.5 }},
		{"ZeroWindow", func(c *app.ETAConfig) { c.Window = 0 }},
		{"ZeroMinSamples", func(c *app.ETAConfig) { c.MinSamples = 0 }},
		{"NegativeMinSamples", func(c *app.ETAConfig) { c.MinSamples = -3 }},
		{"MinSamplesOverWindow", func(c *app.ETAConfig) { c.MinSamples = c.Window + 1 }},
		{"ZeroMin", func(c *app.ETAConfig) { c.Min = 0 }},
		{"MaxBelowMin", func(c *app.ETAConfig) { c.Max = c.Min / 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testETA
			tt.mutate(&cfg)
			_, err := app.NewETA(cfg, memory.NewJobs())
			require.Error(t, err)
		})
	}
	_, err := app.NewETA(testETA, memory.NewJobs())
	require.NoError(t, err)
}

// TestZeroValueHandlersDoNotPanic: a handler that was not built by its
// constructor answers an error instead of a nil dereference.
func TestZeroValueHandlersDoNotPanic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
	}{
		{"Authenticate", func() error {
			_, err := app.AuthenticateHandler{}.Handle(ctx, app.Credentials{Token: "t", APIKey: "k"})
			return err
		}},
		{"GetJobStatus", func() error {
			_, err := app.GetJobStatusHandler{}.Handle(ctx, app.GetJobStatus{Principal: reader})
			return err
		}},
		{"GetJob", func() error {
			_, err := app.GetJobHandler{}.Handle(ctx, app.GetJob{ID: domain.NewID().String()})
			return err
		}},
		{"CreateJob", func() error { _, err := app.CreateJobHandler{}.Handle(ctx, app.CreateJob{ClientID: "c"}); return err }},
		{"CompleteJob", func() error { _, err := app.CompleteJobHandler{}.Handle(ctx, app.CompleteJob{}); return err }},
		{"FailJob", func() error { _, err := app.FailJobHandler{}.Handle(ctx, app.FailJob{}); return err }},
		{"SweepStale", func() error {
			_, err := app.SweepStaleHandler{}.Handle(ctx, app.SweepStale{PendingTimeout: 1})
			return err
		}},
		{"PurgeJobs", func() error { _, err := app.PurgeJobsHandler{}.Handle(ctx, app.PurgeJobs{OlderThan: 1}); return err }},
		{"Report", func() error { return app.ReportHandler{}.Handle(ctx, app.Report{TopFailures: 1}, nil) }},
		{"ListJobs", func() error { _, err := app.ListJobsHandler{}.Handle(ctx, app.ListJobs{Principal: reader}); return err }},
		{"WatchEvents", func() error {
			_, err := app.WatchEventsHandler{}.Handle(ctx, app.WatchEvents{Principal: reader})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.NotPanics(t, func() { require.Error(t, tt.call()) })
		})
	}
}

// TestPublicReachesNoUncheckedLookup: what the public API holds is the
// authentication, the ownership-checked read, and the listing and stream
// of the caller's own jobs, nothing else.
func TestPublicReachesNoUncheckedLookup(t *testing.T) {
	t.Parallel()
	var fields []string
	for f := range reflect.TypeFor[app.Public]().Fields() {
		fields = append(fields, f.Name)
	}
	require.Equal(t, []string{"Authenticate", "GetJobStatus", "ListJobs", "WatchEvents"}, fields)
}

// nopSink drops a report.
type nopSink struct{}

func (nopSink) Row(ports.DailyCount) error      { return nil }
func (nopSink) Summary(app.ReportSummary) error { return nil }

// refuseAll is a RateLimiter that refuses every request.
type refuseAll struct{}

func (refuseAll) Allow(string) (bool, time.Duration) { return false, time.Second }

// TestAuthenticateRecheck: Recheck refuses what Handle refuses (a revoked
// api-key or token, a token of another client) but ignores the rate
// limit, so an open stream is not counted as new requests.
func TestAuthenticateRecheck(t *testing.T) {
	t.Parallel()
	tokens := fakeTokens{"tok-a": {ClientID: "mis-alpha"}, "tok-b": {ClientID: "mis-beta"}}
	clients := fakeClients{"key-a": "mis-alpha"}
	h, err := app.NewAuthenticateHandler(tokens, clients, refuseAll{})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = h.Handle(ctx, app.Credentials{Token: "tok-a", APIKey: "key-a"})
	var limited *domain.RateLimitedError
	require.ErrorAs(t, err, &limited, "Handle counts the request")
	tests := []struct {
		name       string
		creds      app.Credentials
		credential domain.Credential // refused credential; empty: accepted
	}{
		{"Valid", app.Credentials{Token: "tok-a", APIKey: "key-a"}, ""},
		{"APIKeyRevoked", app.Credentials{Token: "tok-a", APIKey: "key-gone"}, domain.CredentialAPIKey},
		{"TokenRevoked", app.Credentials{Token: "tok-gone", APIKey: "key-a"}, domain.CredentialToken},
		{"OtherClientsToken", app.Credentials{Token: "tok-b", APIKey: "key-a"}, domain.CredentialToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := h.Recheck(ctx, tt.creds)
			if tt.credential == "" {
				require.NoError(t, err)
				require.Equal(t, "mis-alpha", p.ClientID)
				return
			}
			var auth *domain.AuthError
			require.ErrorAs(t, err, &auth)
			require.Equal(t, tt.credential, auth.Credential)
		})
	}
}
