package cli

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
)

// completeOptions are the arguments of `jobs complete`.
type completeOptions struct {
	ID    string
	Links []string // ENTITY=HREF
}

// Validate refuses a malformed id and a missing or malformed --link, and
// links the domain refuses for a DONE job, before any setting is read.
func (o completeOptions) Validate() error {
	if err := checkJobID(o.ID); err != nil {
		return err
	}
	if len(o.Links) == 0 {
		return usagef("--link is required: ENTITY=HREF, repeatable")
	}
	links, err := parseLinks(o.Links)
	if err != nil {
		return err
	}
	_, err = domain.Done(links, time.Time{})
	return err
}

func newJobsCompleteCmd(stdio IO) *cobra.Command {
	var o completeOptions
	cmd := &cobra.Command{
		Use:   "complete ID --link ENTITY=HREF...",
		Short: "Move a PENDING job to DONE",
		Long: `Move a PENDING job to DONE with the links to what it created. Hrefs must be
RFC 3986 absolute paths (one leading /, no authority, scheme, query,
backslash, whitespace or dot segment) and entities tokens; anything else
exits 2 and leaves the job as it was. Repeating the same links is a no-op;
other links on a DONE job, or any outcome on a FAILED one, is a conflict
(exit 1).

Example:
  jobstatus jobs complete 0b6f… --link composition=/patients/p/encounter/e/composition/c`,
		Args: args(cobra.ExactArgs(1)),
		RunE: runE(&o, func(argv []string) { o.ID = argv[0] }, func(ctx context.Context) error {
			links, _ := parseLinks(o.Links) // checked by Validate
			return withApp(ctx, stdio, func(ctx context.Context, a *app.Operator) error {
				return printJob(stdio)(a.CompleteJob.Handle(ctx, app.CompleteJob{ID: o.ID, Links: links}))
			})
		}),
	}
	cmd.Flags().StringArrayVar(&o.Links, "link", nil, "ENTITY=HREF, repeatable (at least one)")
	return cmd
}

func parseLinks(in []string) ([]domain.Link, error) {
	out := make([]domain.Link, 0, len(in))
	for _, l := range in {
		entity, href, ok := strings.Cut(l, "=")
		if !ok || entity == "" || href == "" {
			return nil, usagef("--link %q: want ENTITY=HREF", l)
		}
		out = append(out, domain.Link{Entity: entity, Href: href})
	}
	return out, nil
}
