package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
)

// versionTable is goose's record of applied migrations.
const versionTable = "goose_db_version"

// Schema says where a database's schema stands against the migrations
// embedded in this binary.
type Schema struct {
	Current  int64   // highest applied version; 0 for a database never migrated
	Expected int64   // highest version this binary embeds
	Applied  []int64 // applied versions, ascending
	Pending  []int64 // embedded versions not applied, ascending
}

// Ready reports whether the service can run on this schema: every
// migration it embeds is applied. A newer schema (a newer binary migrated
// first, as in a rolling upgrade) is accepted: migrations only add.
func (s Schema) Ready() error {
	if s.Current < s.Expected || len(s.Pending) > 0 {
		return fmt.Errorf("schema version %d, this binary needs %d: run jobstatus migrate", s.Current, s.Expected)
	}
	return nil
}

// String is the state in one sentence, for logs and readiness.
func (s Schema) String() string {
	switch {
	case s.Current > s.Expected:
		return fmt.Sprintf("schema version %d, newer than this binary's %d", s.Current, s.Expected)
	case s.Ready() != nil:
		return s.Ready().Error()
	default:
		return fmt.Sprintf("schema version %d, as this binary needs", s.Current)
	}
}

// ErrSchemaNewer is returned by Migrate for a database migrated by a newer
// binary: this one cannot know what its migrations did.
var ErrSchemaNewer = errors.New("database schema is newer than this binary")

// EmbeddedVersions lists the migration versions this binary carries,
// ascending.
func EmbeddedVersions() []int64 {
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	var out []int64
	for _, n := range names {
		digits, _, _ := strings.Cut(path.Base(n), "_")
		if v, err := strconv.ParseInt(digits, 10, 64); err == nil {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// ReadSchema reads the applied versions without changing anything (no
// table is created, no lock taken), so readiness may call it.
func ReadSchema(ctx context.Context, db *sqlx.DB) (Schema, error) {
	embedded := EmbeddedVersions()
	s := Schema{Expected: embedded[len(embedded)-1]}
	var exists bool
	if err := db.GetContext(ctx, &exists, `SELECT to_regclass($1) IS NOT NULL`, versionTable); err != nil {
		return Schema{}, fmt.Errorf("read schema version: %w", err)
	}
	if exists {
		if err := db.SelectContext(ctx, &s.Applied,
			`SELECT DISTINCT version_id FROM `+versionTable+` WHERE is_applied AND version_id > 0 ORDER BY version_id`); err != nil {
			return Schema{}, fmt.Errorf("read schema version: %w", err)
		}
	}
	if n := len(s.Applied); n > 0 {
		s.Current = s.Applied[n-1]
	}
	for _, v := range embedded {
		if !slices.Contains(s.Applied, v) {
			s.Pending = append(s.Pending, v)
		}
	}
	return s, nil
}
