package postgres

import (
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/jobstatus/jobstatus/domain"
)

// timestamp is a timestamptz column as read, such that a value no
// time.Time can hold fails its job, not the statement: lib/pq hands
// 'infinity' and '-infinity' over as text, and scanning that into a
// time.Time failed the whole read (every job of a listing's page, every
// change of the feed's batch).
type timestamp struct {
	At   time.Time
	Null bool   // SQL NULL
	Text string // the column as sent when it is no date ("infinity")
}

// Scan implements sql.Scanner.
func (t *timestamp) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*t = timestamp{Null: true}
	case time.Time:
		*t = timestamp{At: v}
	case []byte:
		*t = timestamp{Text: string(v)}
	case string:
		*t = timestamp{Text: v}
	default:
		return fmt.Errorf("timestamp: cannot scan %T", v)
	}
	return nil
}

// Value implements driver.Valuer, for the rows a write sends.
func (t timestamp) Value() (driver.Value, error) {
	if t.Null {
		return nil, nil
	}
	return t.At, nil
}

// read returns the time t holds, or a reason why it holds none the
// service can present (domain.ValidTime). A NULL is the caller's to
// allow.
func (t timestamp) read() (time.Time, string) {
	switch {
	case t.Null:
		return time.Time{}, "NULL"
	case t.Text != "":
		return time.Time{}, fmt.Sprintf("%q is not a date", t.Text)
	case !domain.ValidTime(t.At):
		return time.Time{}, fmt.Sprintf("%s lies outside the years 1 to 9999", t.At.UTC().Format(time.RFC3339Nano))
	}
	return t.At, ""
}
