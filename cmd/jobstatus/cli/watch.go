package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jobstatus/jobstatus/client"
	"github.com/jobstatus/jobstatus/internal/termtext"
)

// watchOptions are the flags of `jobstatus watch`.
type watchOptions struct {
	URL         string
	TokenFile   string
	APIKeyFile  string
	LastEventID string
}

// Validate refuses missing flags; credentials come from files, never from
// the command line, where every user of the machine could read them.
func (o watchOptions) Validate() error {
	if err := validServiceURL(o.URL); err != nil {
		return err
	}
	if o.LastEventID != "" && strings.TrimLeft(o.LastEventID, "0123456789") != "" {
		return usagef("--last-event-id must be an id a stream printed (digits only)")
	}
	switch {
	case o.TokenFile == "":
		return usagef("--token-file is required")
	case o.APIKeyFile == "":
		return usagef("--api-key-file is required")
	}
	return nil
}

func newWatchCmd(stdio IO) *cobra.Command {
	var o watchOptions
	cmd := &cobra.Command{
		Use:   "watch --url URL --token-file FILE --api-key-file FILE [--last-event-id ID]",
		Short: "Print the changes of a client's jobs as JSON lines until interrupted",
		Long: `Follow GET /patients/composition/jobs/events of a running service as the MIS
client the token and api-key name, and print one JSON line per change:
{"id":"42","event":"DONE","job":{...}}. A broken stream is resumed with the
last id, so no change is printed twice or lost; {"id":..,"event":"reset",
"reset":true} means changes were missed (past the service's retention):
list the jobs again. Each reconnect prints one line on stderr saying why.
Ends on SIGINT/SIGTERM, or on a refusal (401, 403).

Example:
  jobstatus watch --url http://127.0.0.1:8080 --token-file token.jwt --api-key-file key.txt`,
		Args: args(cobra.NoArgs),
		RunE: runE(&o, nil, func(ctx context.Context) error { return runWatch(ctx, stdio, o) }),
	}
	cmd.Flags().StringVar(&o.URL, "url", "", "base URL of the public API (required)")
	cmd.Flags().StringVar(&o.TokenFile, "token-file", "", "file holding the bearer token (required)")
	cmd.Flags().StringVar(&o.APIKeyFile, "api-key-file", "", "file holding the api-key (required)")
	cmd.Flags().StringVar(&o.LastEventID, "last-event-id", "", "resume after this id; default: live changes only")
	return cmd
}

func runWatch(ctx context.Context, stdio IO, o watchOptions) error {
	token, err := credential(stdio, "token", "", o.TokenFile, "")
	if err != nil {
		return err
	}
	key, err := credential(stdio, "api-key", "", o.APIKeyFile, "")
	if err != nil {
		return err
	}
	// One stderr line per reconnect, naming why; neither the URL (it has
	// no credentials: Validate of client.New) nor an error carries a token.
	retried := client.WithRetryHook(func(failures int, err error) {
		fmt.Fprintf(stdio.Stderr, "jobstatus: watch: reconnecting (attempt %d): %s\n", failures, clientFailure(err))
	})
	c, err := client.New(o.URL, client.WithToken(token), client.WithAPIKey(key), client.WithUserAgent("jobstatus-watch"), retried)
	if err != nil {
		return usageError{err}
	}
	enc := json.NewEncoder(stdio.Stdout)
	for ch, err := range c.Watch(ctx, o.LastEventID) {
		if err != nil {
			return errors.New(clientFailure(err))
		}
		if err := enc.Encode(ch); err != nil {
			return fmt.Errorf("write change: %w", err)
		}
	}
	return nil // interrupted
}

// clientFailure says what went wrong without the client's own "jobstatus:"
// prefix, which Execute adds once.
func clientFailure(err error) string {
	var answer *client.Error
	switch {
	case errors.As(err, &answer):
		return fmt.Sprintf("the service answered %d %s: %s", answer.Status, termtext.Escape(answer.Type), termtext.Escape(answer.Message))
	case errors.Is(err, client.ErrStreamEnded):
		return "the service ended the stream"
	}
	return termtext.Escape(strings.TrimPrefix(err.Error(), "client: "))
}
