package cli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/domain"
)

// TestExitStatusByTypeOnly: the status follows the error's type, wrapped
// or not, and never its text.
func TestExitStatusByTypeOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"Usage", usagef("--client is required"), 2},
		{"WrappedUsage", fmt.Errorf("running: %w", usagef("x")), 2},
		{"Validation", &domain.ValidationError{Field: "id", Reason: "must be a UUID"}, 2},
		{"WrappedValidation", fmt.Errorf("create: %w", &domain.ValidationError{Field: "id", Reason: "x"}), 2},
		{"LooksLikeCobraRequired", errors.New(`required flag(s) "client" not set`), 1},
		{"LooksLikeUnknownCommand", errors.New(`unknown command "x" for "jobstatus"`), 1},
		{"NotFound", domain.ErrNotFound, 1},
		{"Unavailable", fmt.Errorf("get: %w", domain.ErrUnavailable), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, exitStatus(tt.err))
		})
	}
}
