package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"testing"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"github.com/stretchr/testify/require"
)

// answering is a lib/pq connection whose BEGIN and statements fail with
// err; the rest of pqConn is never called here.
type answering struct {
	pqConn
	err error
}

func (a answering) BeginTx(context.Context, driver.TxOptions) (driver.Tx, error) { return nil, a.err }

func (a answering) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	return nil, a.err
}

func (a answering) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	return nil, a.err
}

func (a answering) IsValid() bool { return true }

func (a answering) ResetSession(context.Context) error { return nil }

// TestSessionThatCannotWriteIsNotPooled: a connection whose session can
// never write is discarded; one that met any other refusal is kept. A hot
// standby refuses lib/pq's BEGIN READ WRITE with 0A000, not 25006, and
// such a connection stayed pooled until a plain write failed; 0A000 is
// also a stale cached plan, which keeps the connection (it is prepared
// again).
func TestSessionThatCannotWriteIsNotPooled(t *testing.T) {
	t.Parallel()
	pqErr := func(code, message string) error { return &pq.Error{Code: pqerror.Code(code), Message: message} }
	recovery := pqErr("0A000", "cannot set transaction read-write mode during recovery")
	stalePlan := pqErr("0A000", "cached plan must not change result type")
	serializable := pqErr("0A000", "cannot use serializable mode in a hot standby")
	ctx := context.Background()
	begin := func(opts driver.TxOptions) func(*conn) error {
		return func(c *conn) error { _, err := c.BeginTx(ctx, opts); return err }
	}
	query := func(c *conn) error { _, err := c.QueryContext(ctx, "SELECT * FROM t", nil); return err }
	exec := func(c *conn) error { _, err := c.ExecContext(ctx, "UPDATE t SET a = 1", nil); return err }
	tests := []struct {
		name string
		err  error
		run  func(*conn) error
		kept bool
	}{
		{"BeginReadWriteInRecovery", recovery, begin(driver.TxOptions{}), false},
		{"BeginSerializableInHotStandby", serializable, begin(driver.TxOptions{Isolation: driver.IsolationLevel(sql.LevelSerializable)}), false},
		// A read-only BEGIN the standby refuses leaves a session that
		// still serves reads.
		{"BeginReadOnlyRefused", serializable, begin(driver.TxOptions{ReadOnly: true}), true},
		{"WriteInReadOnlyTransaction", pqErr("25006", "cannot execute UPDATE in a read-only transaction"), exec, false},
		{"StalePlan", stalePlan, query, true},
		{"StalePlanOnExec", stalePlan, exec, true},
		{"BeginOtherError", pqErr("53300", "sorry, too many clients already"), begin(driver.TxOptions{}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &conn{pqConn: answering{err: tt.err}, d: &connDialer{sockets: newSockets()}}
			require.ErrorIs(t, tt.run(c), tt.err, "the error itself reaches the caller")
			require.Equal(t, tt.kept, c.IsValid())
			if tt.kept {
				require.NoError(t, c.ResetSession(ctx))
			} else {
				require.ErrorIs(t, c.ResetSession(ctx), driver.ErrBadConn)
			}
		})
	}
}
