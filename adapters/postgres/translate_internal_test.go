package postgres

import (
	"context"
	"errors"
	"testing"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/domain"
)

// TestTranslateSQLState: a database that is missing, refuses our
// credentials, is not migrated, or is short of resources is a 503 (try
// again), never a 500.
func TestTranslateSQLState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code string
		want error // nil: neither unavailable nor a known domain error
	}{
		{"3D000", domain.ErrUnavailable}, // invalid_catalog_name: no such database
		{"28P01", domain.ErrUnavailable}, // invalid_password
		{"28000", domain.ErrUnavailable}, // invalid_authorization_specification
		{"42P01", domain.ErrUnavailable}, // undefined_table: not migrated
		{"08006", domain.ErrUnavailable}, // connection_failure
		{"08P01", domain.ErrUnavailable}, // protocol_violation
		{"53300", domain.ErrUnavailable}, // too_many_connections
		{"53100", domain.ErrUnavailable}, // disk_full
		{"57P01", domain.ErrUnavailable}, // admin_shutdown
		{"57P03", domain.ErrUnavailable}, // cannot_connect_now
		{"57014", domain.ErrUnavailable}, // query_canceled
		{"58030", domain.ErrUnavailable}, // io_error
		{"0A000", domain.ErrUnavailable}, // a stale plan
		{"23505", domain.ErrAlreadyExists},
		{"42601", nil}, // syntax_error: our bug, a 500
		{"22P02", nil}, // invalid_text_representation
		{"42703", nil}, // undefined_column
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			err := translate(context.Background(), "get job", &pq.Error{Code: pqerror.Code(tt.code)})
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				return
			}
			for _, e := range []error{domain.ErrUnavailable, domain.ErrNotFound, domain.ErrAlreadyExists} {
				require.False(t, errors.Is(err, e), "%s must stay an internal error, got %v", tt.code, err)
			}
		})
	}
}
