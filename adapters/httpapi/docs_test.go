package httpapi

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/domain"
)

// documentedErrors reads the error rows of the status table in
// docs/http-api.md: status, error.type, error.message.
func documentedErrors(t *testing.T) []problem {
	t.Helper()
	raw, err := os.ReadFile("../../docs/http-api.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(raw), "\n## Statuses\n")
	require.True(t, ok, "docs/http-api.md has no Statuses section")
	section, _, _ = strings.Cut(section, "\n## ")
	var rows []problem
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 6 { // | status | type | message | when |
			continue
		}
		status, err := strconv.Atoi(strings.TrimSpace(cells[1]))
		if err != nil || status < 400 {
			continue // the header row, the separator, 200 and 304
		}
		unquote := func(s string) string { return strings.Trim(strings.TrimSpace(s), "`") }
		rows = append(rows, problem{status: status, kind: unquote(cells[2]), message: unquote(cells[3])})
	}
	return rows
}

// TestDocumentedErrorsMatchTheCode keeps docs/http-api.md's status table and
// errorTable the same, row for row.
func TestDocumentedErrorsMatchTheCode(t *testing.T) {
	t.Parallel()
	require.ElementsMatch(t, errorTable, documentedErrors(t))
}

// TestClassifyAnswersOnlyTableRows maps one error of each kind the use
// cases return and requires the answer to be a row of errorTable; the rows
// the middleware and the router give are sent as requests by the handler
// tests (TestStatusCodes, TestInFlightCap, TestPerClientRateLimit).
func TestClassifyAnswersOnlyTableRows(t *testing.T) {
	t.Parallel()
	tests := map[string]error{
		"BadID":       &domain.ValidationError{Field: "asyncJobId", Reason: "not a UUID"},
		"Malformed":   errMalformed,
		"BadToken":    &domain.AuthError{Credential: domain.CredentialToken, Reason: "expired"},
		"BadAPIKey":   &domain.AuthError{Credential: domain.CredentialAPIKey, Reason: "unknown api-key"},
		"NoScope":     &domain.ForbiddenError{MissingScopes: []string{"{scopes}"}},
		"NotFound":    fmt.Errorf("get job: %w", domain.ErrNotFound),
		"RateLimited": &domain.RateLimitedError{ClientID: "c", RetryAfter: time.Second},
		"Unavailable": fmt.Errorf("get job: %w", domain.ErrUnavailable),
		"Unknown":     errors.New("pq: something odd"),
	}
	for name, err := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := classify(err)
			p.retryAfter, p.scope = 0, ""
			require.Contains(t, errorTable, p)
		})
	}
}
