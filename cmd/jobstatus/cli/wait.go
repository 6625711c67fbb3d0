package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jobstatus/jobstatus/bootstrap"
	"github.com/jobstatus/jobstatus/client"
	"github.com/jobstatus/jobstatus/domain"
)

// Variables wait reads its credentials from when no flag names them.
const (
	envToken  = "JOBSTATUS_TOKEN"
	envAPIKey = "JOBSTATUS_API_KEY"
)

// waitOptions are the flags of `jobstatus wait`. The credentials are never
// printed: no message of this command quotes them, nor the URL, which may
// carry a password.
type waitOptions struct {
	ID         string
	URL        string
	Token      string
	TokenFile  string
	APIKey     string
	APIKeyFile string
	Timeout    time.Duration // 0: no limit
}

// Validate refuses a malformed id or URL, a negative timeout and a
// credential given both as a flag and as a file.
func (o waitOptions) Validate() error {
	if _, err := domain.ParseID(o.ID); err != nil {
		return usagef("job id %q: want a UUID such as 89678f60-4cdc-4fe3-ae83-e8b3ebd35c59", o.ID)
	}
	if err := validServiceURL(o.URL); err != nil {
		return err
	}
	if o.Timeout < 0 {
		return usagef("--timeout must not be negative, got %s", bootstrap.FormatDuration(o.Timeout))
	}
	if o.Token != "" && o.TokenFile != "" {
		return usagef("give the token once: --token or --token-file")
	}
	if o.APIKey != "" && o.APIKeyFile != "" {
		return usagef("give the api-key once: --api-key or --api-key-file")
	}
	return nil
}

func newWaitCmd(stdio IO) *cobra.Command {
	var o waitOptions
	cmd := &cobra.Command{
		Use:   "wait ID --url URL [--token-file FILE] [--api-key-file FILE] [--timeout D]",
		Short: "Wait for a job over HTTP (public API) and print it",
		Long: `Wait until a job is DONE or FAILED, through the public API as an MIS would
(the client package: Prefer: wait, If-None-Match, Retry-After, backoff on
429 and 503), and print the final answer as JSON.

The token and the api-key come from --token/--api-key, from files
(--token-file/--api-key-file, preferred: flags show in the process list)
or from JOBSTATUS_TOKEN and JOBSTATUS_API_KEY. They are never printed.

Exit status: 0 DONE; 1 FAILED, an error answer (401, 403, 404, ...) or
no answer at all (nothing listening, no route, no such host: 4 quick
tries, a few seconds, then it stops); 2 bad input; 3 not finished within
--timeout (the service answers but the job is still PENDING, or asks to
retry: 429, 503).

Example:
  jobstatus wait 89678f60-4cdc-4fe3-ae83-e8b3ebd35c59 --url https://jobstatus.example --token-file token.jwt --api-key-file api-key.txt`,
		Args: args(cobra.ExactArgs(1)),
		RunE: runE(&o, func(argv []string) { o.ID = argv[0] }, func(ctx context.Context) error { return runWait(ctx, stdio, o) }),
	}
	cmd.Flags().StringVar(&o.URL, "url", "", "base URL of the public API (required)")
	cmd.Flags().StringVar(&o.Token, "token", "", "access token (default $"+envToken+")")
	cmd.Flags().StringVar(&o.TokenFile, "token-file", "", "file holding the access token")
	cmd.Flags().StringVar(&o.APIKey, "api-key", "", "the MIS's api-key (default $"+envAPIKey+")")
	cmd.Flags().StringVar(&o.APIKeyFile, "api-key-file", "", "file holding the api-key")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 10*time.Minute, "give up after this long (exit 3); 0 waits without limit")
	return cmd
}

func runWait(ctx context.Context, stdio IO, o waitOptions) error {
	token, err := credential(stdio, "token", o.Token, o.TokenFile, envToken)
	if err != nil {
		return err
	}
	apiKey, err := credential(stdio, "api-key", o.APIKey, o.APIKeyFile, envAPIKey)
	if err != nil {
		return err
	}
	// The first transient failure is said at once, so a wrong --url is not
	// a silent wait; the last one is named when the timeout ends the wait.
	// Neither carries a credential: the URL has none (Validate) and the
	// client's errors name the method and path only.
	// A service that does not answer at all (refused, no route, no such
	// host) is not a pending job: after maxUnreachable tries in a row,
	// 3.5 to 5 s of backoff, wait stops with exit 1 instead of spending
	// its whole timeout. Answers that ask to retry (429, 503) go on.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var lastFailure error
	unreachable := 0
	retried := client.WithRetryHook(func(failures int, err error) {
		var answer *client.Error
		if errors.As(err, &answer) {
			unreachable = 0
		} else if unreachable++; unreachable >= maxUnreachable {
			stop(unreachableError{tries: unreachable, err: err})
		}
		if lastFailure == nil {
			until := "interrupted"
			if o.Timeout > 0 {
				until = "the timeout (" + bootstrap.FormatDuration(o.Timeout) + ")"
			}
			if unreachable > 0 { // no answer: said as what wait will do, a few tries
				until += fmt.Sprintf(", or %d tries in a row without an answer", maxUnreachable)
			}
			fmt.Fprintf(stdio.Stderr, "jobstatus: job %s: %s; retrying until %s\n", o.ID, clientFailure(err), until)
		}
		lastFailure = err
	})
	c, err := client.New(o.URL, client.WithToken(token), client.WithAPIKey(apiKey), client.WithUserAgent("jobstatus-wait"), retried)
	if err != nil {
		return usagef("--url must be an http or https URL without credentials or query, e.g. https://jobstatus.example")
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	job, err := c.Wait(ctx, o.ID)
	var answer *client.Error
	var down unreachableError
	switch {
	case errors.As(context.Cause(ctx), &down):
		return fmt.Errorf("job %s: the service could not be reached (%d tries): %s", o.ID, down.tries, clientFailure(down.err))
	case errors.Is(err, context.DeadlineExceeded):
		msg := fmt.Sprintf("no final answer for job %s within %s", o.ID, bootstrap.FormatDuration(o.Timeout))
		if lastFailure != nil {
			msg += "; last error: " + clientFailure(lastFailure)
		}
		return exitError{code: exitTimedOut, err: errors.New(msg)}
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("job %s: interrupted", o.ID)
	case errors.As(err, &answer) && answer.Status == 400:
		return usagef("job %s: the service refused the request: %s", o.ID, answer.Message)
	case errors.As(err, &answer):
		return fmt.Errorf("job %s: the service answered %d %s: %s", o.ID, answer.Status, answer.Type, answer.Message)
	case err != nil:
		return fmt.Errorf("job %s: %w", o.ID, err)
	}
	if err := printJSON(stdio.Stdout, job); err != nil {
		return err
	}
	if job.Status == client.StatusFailed {
		reason := ""
		if job.Error != nil {
			reason = fmt.Sprintf(": %d %s", job.Error.Code, job.Error.Message)
		}
		return fmt.Errorf("job %s FAILED%s", o.ID, reason)
	}
	return nil
}

// maxUnreachable is how many tries in a row without any answer make wait
// give up on the service (exit 1).
const maxUnreachable = 4

// unreachableError ends a wait whose service never answered.
type unreachableError struct {
	tries int
	err   error
}

// Error names the last failure.
func (e unreachableError) Error() string { return e.err.Error() }

// validServiceURL refuses what wait and watch cannot use as the public
// API's base URL: a URL with credentials would put them in logs and errors.
func validServiceURL(raw string) error {
	if raw == "" {
		return usagef("--url is required: the public API, e.g. https://jobstatus.example")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return usagef("--url must be an http or https URL without credentials or query, e.g. https://jobstatus.example")
	}
	return nil
}

// maxCredentialFile bounds a credential file: a token or an api-key is a
// line, and a file that never ends (/dev/zero) must not fill memory.
const maxCredentialFile = 64 << 10

// readCredentialFile reads at most maxCredentialFile bytes of path.
func readCredentialFile(what, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", usageError{fmt.Errorf("--%s-file: %w", what, err)}
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxCredentialFile+1))
	if err != nil {
		return "", usageError{fmt.Errorf("--%s-file: %w", what, err)}
	}
	if len(raw) > maxCredentialFile {
		return "", usagef("--%s-file %s is larger than %d KiB: not a credential", what, path, maxCredentialFile>>10)
	}
	return string(raw), nil
}

// credential returns what the flag says, else the file's content, else
// the variable's value. Messages name where it was looked for, never what
// was found.
func credential(stdio IO, what, flag, file, variable string) (string, error) {
	v := flag
	switch {
	case flag != "":
	case file != "":
		raw, err := readCredentialFile(what, file)
		if err != nil {
			return "", err
		}
		v = strings.TrimSpace(raw)
		if v == "" {
			return "", usagef("--%s-file %s is empty", what, file)
		}
	default:
		v = lookupEnv(stdio, variable)
	}
	switch {
	case v == "":
		return "", usagef("the %s is required: --%s-file FILE, --%s or %s", what, what, what, variable)
	case strings.IndexFunc(v, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0:
		return "", usagef("the %s must be one line of printable ASCII without spaces", what)
	}
	return v, nil
}

// lookupEnv returns the value of name in the command's environment.
func lookupEnv(stdio IO, name string) string {
	for _, kv := range stdio.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}
