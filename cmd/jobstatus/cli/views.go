package cli

import (
	"encoding/json"
	"io"
	"time"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/domain"
)

// JobView is how the job commands print a job: the command line's own
// format, mapped from the domain so the domain carries no wire format.
type JobView struct {
	ID         string       `json:"id"`
	ClientID   string       `json:"client_id"`
	Status     string       `json:"status"`
	ETA        time.Time    `json:"eta"`
	Links      []LinkView   `json:"links"`
	Error      *FailureView `json:"error,omitempty"`
	CreatedAt  time.Time    `json:"created_at"`
	UpdatedAt  time.Time    `json:"updated_at"`
	FinishedAt *time.Time   `json:"finished_at,omitempty"`
}

// LinkView is one link of a DONE job.
type LinkView struct {
	Entity string `json:"entity"`
	Href   string `json:"href"`
}

// FailureView is why a job FAILED.
type FailureView struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func jobView(j domain.Job) JobView {
	v := JobView{ID: j.ID.String(), ClientID: j.ClientID, Status: string(j.Status), ETA: j.ETA,
		Links: make([]LinkView, 0, len(j.Links)), CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, FinishedAt: j.FinishedAt}
	for _, l := range j.Links {
		v.Links = append(v.Links, LinkView{Entity: l.Entity, Href: l.Href})
	}
	if j.Failure != nil {
		v.Error = &FailureView{Code: j.Failure.Code, Message: j.Failure.Message}
	}
	return v
}

// migrationView is what `migrate` prints.
type migrationView struct {
	Applied []int64 `json:"applied"`
	Version int64   `json:"version"`
}

func newMigrationView(res postgres.MigrationResult) migrationView {
	v := migrationView{Applied: res.Applied, Version: res.Current}
	if v.Applied == nil {
		v.Applied = []int64{}
	}
	return v
}

// schemaView is what `migrate status` prints.
type schemaView struct {
	Version  int64   `json:"version"`
	Expected int64   `json:"expected"`
	Applied  []int64 `json:"applied"`
	Pending  []int64 `json:"pending"`
	State    string  `json:"state"`
}

func newSchemaView(s postgres.Schema) schemaView {
	v := schemaView{Version: s.Current, Expected: s.Expected, Applied: s.Applied, Pending: s.Pending, State: s.String()}
	if v.Applied == nil {
		v.Applied = []int64{}
	}
	if v.Pending == nil {
		v.Pending = []int64{}
	}
	return v
}

// purgeView is what `jobs purge` prints.
type purgeView struct {
	DryRun bool `json:"dry_run"`
	Jobs   int  `json:"jobs"`
}

// keygenView is what `keygen` prints.
type keygenView struct {
	Alg  string `json:"alg"`
	JWKS string `json:"jwks"`
	Key  string `json:"key"`
	KID  string `json:"kid"`
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
