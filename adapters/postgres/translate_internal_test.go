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
// credentials, is not migrated, is short of resources, refuses
// connections, is shutting down or starting, is a standby, or asks for a
// retry is a 503 (try again), never a 500.
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
		// Every other "the database cannot serve now" answer.
		{"08000", domain.ErrUnavailable}, // connection_exception
		{"08001", domain.ErrUnavailable}, // sqlclient_unable_to_establish_sqlconnection
		{"08004", domain.ErrUnavailable}, // sqlserver_rejected_establishment_of_sqlconnection
		{"53000", domain.ErrUnavailable}, // insufficient_resources
		{"53200", domain.ErrUnavailable}, // out_of_memory
		{"53400", domain.ErrUnavailable}, // configuration_limit_exceeded
		{"55000", domain.ErrUnavailable}, // object_not_in_prerequisite_state: database not accepting connections
		{"55006", domain.ErrUnavailable}, // object_in_use
		{"55P03", domain.ErrUnavailable}, // lock_not_available
		{"57000", domain.ErrUnavailable}, // operator_intervention
		{"57P02", domain.ErrUnavailable}, // crash_shutdown
		{"57P04", domain.ErrUnavailable}, // database_dropped
		{"57P05", domain.ErrUnavailable}, // idle_session_timeout
		{"58000", domain.ErrUnavailable}, // system_error
		{"25006", domain.ErrUnavailable}, // read_only_sql_transaction: a standby after a failover
		{"25P03", domain.ErrUnavailable}, // idle_in_transaction_session_timeout
		{"25P04", domain.ErrUnavailable}, // transaction_timeout
		{"40001", domain.ErrUnavailable}, // serialization_failure, a standby's recovery conflict
		{"40P01", domain.ErrUnavailable}, // deadlock_detected
		{"72000", domain.ErrUnavailable}, // snapshot_too_old
		{"23505", domain.ErrAlreadyExists},
		{"42601", nil}, // syntax_error: our bug, a 500
		{"22P02", nil}, // invalid_text_representation
		{"42703", nil}, // undefined_column
		{"23514", nil}, // check_violation: a row the schema refuses
		{"40000", nil}, // transaction_rollback, not one that says "retry"
		{"25P02", nil}, // in_failed_sql_transaction: our bug
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
