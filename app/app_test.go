package app_test

import (
	"context"
	"errors"
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
	clock *fakeClock
	repo  ports.JobRepository
}

var reader = domain.Principal{ClientID: "mis-alpha", Subject: "doc", Scopes: []string{domain.ScopeCompositionRead}}

// setup wires the use cases to the memory repository directly: no HTTP, no
// fx. This is how a batch tool reuses them in-process.
func setup(t *testing.T) (*app.Application, *testBundle) {
	t.Helper()
	b := &testBundle{clock: &fakeClock{now: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}, repo: memory.NewJobs()}
	a := app.New(app.Deps{
		Jobs:    b.repo,
		Tokens:  fakeTokens{"tok-a": reader, "tok-b": {ClientID: "mis-beta", Scopes: []string{domain.ScopeCompositionRead}}},
		Clients: fakeClients{"key-a": "mis-alpha", "key-b": "mis-beta"},
		Clock:   b.clock,
	})
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
			require.Equal(t, b.clock.Now().Add(app.DefaultETA), j.ETA)
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

func TestConstructorsPanicOnNilDeps(t *testing.T) {
	t.Parallel()
	require.Panics(t, func() { app.NewGetJobStatusHandler(nil, nil, nil, nil, app.PollingConfig{}) })
	require.Panics(t, func() { app.NewCreateJobHandler(nil, nil, nil) })
	require.Panics(t, func() { app.NewCompleteJobHandler(memory.NewJobs(), nil, nil) })
	require.Panics(t, func() { app.NewFailJobHandler(nil, ports.ClockFunc(time.Now)) })
	require.Panics(t, func() { app.NewAuthenticateHandler(nil, nil, nil) })
}
