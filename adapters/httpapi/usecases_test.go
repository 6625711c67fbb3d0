package httpapi_test

import (
	"testing"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// useCases is both halves of the application: the handler gets Public,
// the tests set up jobs through Operator.
type useCases = testkit.UseCases

// newUseCases wires the use cases over repo (see testkit.NewUseCases).
func newUseCases(tb testing.TB, repo ports.JobRepository, tokens ports.TokenVerifier, clients ports.ClientStore,
	limits ports.RateLimiter, changes *app.Changes) useCases {
	tb.Helper()
	return testkit.NewUseCases(tb, repo, tokens, clients, limits, changes)
}
