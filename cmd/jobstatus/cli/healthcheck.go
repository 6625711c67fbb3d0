package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/jobstatus/jobstatus/bootstrap"
)

// healthcheckOptions are the flags of `jobstatus healthcheck`.
type healthcheckOptions struct {
	Live    bool          // /healthz instead of /readyz
	Timeout time.Duration // per request
	Wait    time.Duration // keep asking this long; 0 asks once
}

// Validate refuses a timeout that is not positive and a negative wait.
func (o healthcheckOptions) Validate() error {
	switch {
	case o.Timeout <= 0:
		return usagef("--timeout must be positive, got %s", bootstrap.FormatDuration(o.Timeout))
	case o.Wait < 0:
		return usagef("--wait must not be negative, got %s", bootstrap.FormatDuration(o.Wait))
	}
	return nil
}

func (o healthcheckOptions) path() string {
	if o.Live {
		return "/healthz"
	}
	return "/readyz"
}

func newHealthcheckCmd(stdio IO) *cobra.Command {
	var o healthcheckOptions
	cmd := &cobra.Command{
		Use:   "healthcheck [--live] [--wait D]",
		Short: "Ask the running service's admin listener whether it is ready (exit 0) or not (exit 1)",
		Long: `Ask the admin listener (JOBSTATUS_ADMIN_ADDR, from the same configuration
as serve) for /readyz and exit 0 when it answers 200, 1 otherwise; the
answer is printed. Readiness, not liveness: an instance whose database or
keys are gone is reported unhealthy, so orchestrators and docker compose's
depends_on wait for a service that can answer. --live asks /healthz (the
process answers) instead. Made for the image's HEALTHCHECK: the scratch
image has no shell or curl.

Example:
  jobstatus healthcheck --wait 30s   # until the service started beside it is ready`,
		Args: args(cobra.NoArgs),
		RunE: runE(&o, nil, func(ctx context.Context) error { return runHealthcheck(ctx, stdio, o) }),
	}
	cmd.Flags().BoolVar(&o.Live, "live", false, "ask /healthz (the process answers) instead of /readyz")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 3*time.Second, "time each request may take")
	cmd.Flags().DurationVar(&o.Wait, "wait", 0, "ask again until ready or this much time passed (0: ask once)")
	return cmd
}

func runHealthcheck(ctx context.Context, stdio IO, o healthcheckOptions) error {
	cfg, err := bootstrap.LoadConfig(stdio.Environ)
	if err != nil {
		return err
	}
	if cfg.AdminAddr == "" {
		return fmt.Errorf("healthcheck asks the admin listener, and %s is empty: it is disabled", bootstrap.SettingName("admin_addr"))
	}
	url := "http://" + bootstrap.DialableAddr(cfg.AdminAddr) + o.path()
	// Loopback or the orchestrator's own network: never through a proxy.
	client := &http.Client{Timeout: o.Timeout, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	deadline := time.Now().Add(o.Wait)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		body, err := probe(ctx, client, url)
		if err == nil {
			_, err = stdio.Stdout.Write(body)
			return err
		}
		if !time.Now().Before(deadline) {
			if len(body) > 0 {
				_, _ = stdio.Stdout.Write(body)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-tick.C:
		}
	}
}

// errNotReady is a probe answered with another status than 200.
var errNotReady = errors.New("not ready")

// probe asks url once; it fails unless the answer is 200.
func probe(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("healthcheck: %w", err)
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK {
		return body, fmt.Errorf("healthcheck: %s answered %d: %w", url, res.StatusCode, errNotReady)
	}
	return body, nil
}
