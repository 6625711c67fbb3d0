package client

import (
	"context"
	"net/http"
	"time"
)

// InternalJobsPath is the write API's collection of jobs.
const InternalJobsPath = "/internal/jobs"

// CreateParams describe a new job.
type CreateParams struct {
	// ClientID is the MIS client that will own and poll the job.
	ClientID string
	// ETA is how long the job should take; zero lets the service estimate.
	ETA time.Duration
	// IdempotencyKey, when set, makes a repeated create return the job that
	// is still PENDING from the first one instead of a new job.
	IdempotencyKey string
}

// Create starts a PENDING job through the write API (needs a token with
// scope composition_job:write). created is false when IdempotencyKey
// matched a job created before.
func (c *Client) Create(ctx context.Context, p CreateParams) (job Job, created bool, err error) {
	body := struct {
		ClientID string `json:"client_id"`
		ETA      string `json:"eta,omitempty"`
	}{ClientID: p.ClientID}
	if p.ETA > 0 {
		body.ETA = p.ETA.String()
	}
	var header http.Header
	if p.IdempotencyKey != "" {
		header = http.Header{"Idempotency-Key": {p.IdempotencyKey}}
	}
	a, err := c.send(ctx, http.MethodPost, InternalJobsPath, header, body)
	if err != nil {
		return Job{}, false, err
	}
	switch a.status {
	case http.StatusCreated, http.StatusOK:
		job, err := a.job()
		return job, a.status == http.StatusCreated, err
	}
	return Job{}, false, a.err()
}

// Complete moves a PENDING job to DONE with links through the write API.
// Repeating the same links is accepted; another outcome is ErrConflict.
func (c *Client) Complete(ctx context.Context, id string, links ...Link) (Job, error) {
	if links == nil {
		links = []Link{}
	}
	return c.finish(ctx, id, "/complete", struct {
		Links []Link `json:"links"`
	}{links})
}

// Fail moves a PENDING job to FAILED through the write API. Repeating the
// same code and message is accepted; another outcome is ErrConflict.
func (c *Client) Fail(ctx context.Context, id string, code int, message string) (Job, error) {
	return c.finish(ctx, id, "/fail", Failure{Code: code, Message: message})
}

// GetAny reads any job through the write API, whoever owns it.
func (c *Client) GetAny(ctx context.Context, id string) (Job, error) {
	return c.jobAt(ctx, http.MethodGet, InternalJobsPath+"/", id, "", nil)
}

func (c *Client) finish(ctx context.Context, id, suffix string, body any) (Job, error) {
	return c.jobAt(ctx, http.MethodPost, InternalJobsPath+"/", id, suffix, body)
}

// jobAt sends one request about job id and expects the job with 200.
func (c *Client) jobAt(ctx context.Context, method, prefix, id, suffix string, body any) (Job, error) {
	path, err := jobPath(prefix, id, suffix)
	if err != nil {
		return Job{}, err
	}
	a, err := c.send(ctx, method, path, nil, body)
	if err != nil {
		return Job{}, err
	}
	if a.status != http.StatusOK {
		return Job{}, a.err()
	}
	return a.job()
}
