package client_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jobstatus/jobstatus/client"
)

// Most bodies below are Go blocks of README.md and docs/*.md, verbatim
// (readme_test.go keeps them so): they compile against the package as it is.

// A worker service creates a job for an MIS on the write API and reports
// its outcome.
func Example_worker() {
	ctx := context.Background()
	workerToken, requestID := "token with scope composition_job:write", "sign-4711"
	href := "/patients/p1/encounter/e1/composition/c1"
	_ = func() error {
		w, err := client.New("http://127.0.0.1:8081", client.WithToken(workerToken))
		if err != nil {
			return err
		}
		job, _, err := w.Create(ctx, client.CreateParams{ClientID: "mis-alpha", IdempotencyKey: requestID})
		if err != nil {
			return err
		}
		// … create and sign the composition, then report the outcome:
		_, err = w.Complete(ctx, job.ID, client.Link{Entity: "composition", Href: href})
		// or: _, err = w.Fail(ctx, job.ID, 422, "Composition signature is not valid")
		return err // client.ErrConflict: the job already ended another way
	}
}

// An MIS waits for its job on the public API.
func Example_mis() {
	ctx := context.Background()
	userToken, apiKey, asyncJobID := "user's access token", "api-key", "89678f60-4cdc-4fe3-ae83-e8b3ebd35c59"
	_ = func() error {
		c, err := client.New("https://jobstatus.example", client.WithToken(userToken), client.WithAPIKey(apiKey))
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		job, err := c.Wait(ctx, asyncJobID) // Prefer: wait, If-None-Match, Retry-After, backoff on 429/503
		if err != nil {
			return err // context.DeadlineExceeded, client.ErrNotFound, client.ErrForbidden, …
		}
		fmt.Println(job.Status, job.Links, job.Error) // DONE with links, or FAILED with the reason
		return nil
	}
}

// An MIS follows every change of its jobs on one stream.
func Example_watch() {
	ctx := context.Background()
	token, key, lastID := "user's access token", "api-key", ""
	handle := func(*client.Job) {}
	_ = func() error {
		c, err := client.New("https://jobstatus.example", client.WithToken(token), client.WithAPIKey(key))
		if err != nil {
			return err
		}
		for ch, err := range c.Watch(ctx, lastID) { // reconnects with Last-Event-ID and backoff
			if err != nil {
				return err // 401, 403, 400: retrying cannot help
			}
			if ch.Reset {
				continue // older than retention: re-list with c.List
			}
			lastID = ch.ID // store it to resume after a restart
			handle(ch.Job)
		}
		return nil
	}
	_ = func() error {
		c, err := client.New("https://jobstatus.example", client.WithToken(token), client.WithAPIKey(key))
		if err != nil {
			return err
		}
		for job, err := range c.ListAll(ctx, client.ListFilter{Status: client.StatusPending}) { // or c.List, one page
			if err != nil {
				return err
			}
			handle(&job)
		}
		return nil
	}
}

// A worker of docs/workers.md: a conflicting outcome is another worker's.
func Example_workerConflict() {
	ctx := context.Background()
	workerToken, requestID := "token with scope composition_job:write", "sign-4711"
	href := "/patients/p1/encounter/e1/composition/c1"
	_ = func() error {
		w, err := client.New("http://127.0.0.1:8081", client.WithToken(workerToken))
		if err != nil {
			return err
		}
		job, _, err := w.Create(ctx, client.CreateParams{ClientID: "mis-alpha", ETA: 30 * time.Second, IdempotencyKey: requestID})
		if err != nil {
			return err
		}
		// … process the composition …
		_, err = w.Complete(ctx, job.ID, client.Link{Entity: "composition", Href: href})
		if errors.Is(err, client.ErrConflict) {
			return nil // another worker already ended this job differently
		}
		return err
	}
}

// An MIS of docs/workers.md tells each end of a wait apart.
func Example_misOutcomes() {
	ctx := context.Background()
	userToken, apiKey, asyncJobID := "user's access token", "api-key", "89678f60-4cdc-4fe3-ae83-e8b3ebd35c59"
	_ = func() error {
		c, err := client.New("https://jobstatus.example", client.WithToken(userToken), client.WithAPIKey(apiKey))
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		job, err := c.Wait(ctx, asyncJobID)
		switch {
		case errors.Is(err, context.DeadlineExceeded): // still PENDING after 10 minutes
		case errors.Is(err, client.ErrNotFound): // no such job, or not ours
		case err != nil: // *client.Error or a network error
		case job.Status == client.StatusDone: // job.Links[0].Href is the composition
		default: // FAILED: job.Error.Code, job.Error.Message
		}
		return err
	}
}
