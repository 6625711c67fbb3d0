package cli

import (
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/bootstrap"
	"github.com/jobstatus/jobstatus/domain"
)

// What the curl lines of `serve --dev` carry.
const (
	devTokenTTL = 24 * time.Hour
	devSubject  = "demo-doctor"
)

// announce prints ready-to-paste curl lines for the demo jobs and, when
// the write API listens (internal not nil), for a worker.
func announce(out io.Writer, d bootstrap.DevDemo) error {
	k, addr, internal := d.Kit, d.Public, d.Internal
	token, err := k.Signer.Mint(jwtauth.TokenParams{
		Issuer: bootstrap.DevIssuer, Audience: bootstrap.DevAudience, Subject: devSubject, ClientID: bootstrap.DevClientID,
		Scopes: []string{domain.ScopeCompositionRead}, TTL: devTokenTTL,
	})
	if err != nil {
		return err
	}
	var pending domain.Job
	base := "http://" + dialable(addr)
	var b strings.Builder
	fmt.Fprintf(&b, "\njobstatus --dev is serving on %s (in-memory store, ephemeral signing key)\n", base)
	fmt.Fprintf(&b, "client %s, api-key and token valid for %s:\n\n", bootstrap.DevClientID, devTokenTTL)
	for _, j := range k.Jobs {
		what := string(j.Status)
		if j.ClientID != bootstrap.DevClientID {
			what = "another client's job -> 404"
		}
		fmt.Fprintf(&b, "# %s\ncurl -i '%s/patients/composition/job/%s' -H 'Authorization: Bearer %s' -H 'api-key: %s' -w '\\n'\n\n",
			what, base, j.ID, token, k.APIKey)
		if j.ClientID == bootstrap.DevClientID && j.Status == domain.StatusPending {
			pending = j
		}
	}
	if internal != nil {
		if err := announceWorker(&b, k, "http://"+dialable(internal), pending); err != nil {
			return err
		}
	}
	fmt.Fprintf(&b, "# the client's jobs, newest first\ncurl -s '%s/patients/composition/jobs?page_size=10' -H 'Authorization: Bearer %s' -H 'api-key: %s' -w '\\n'\n\n",
		base, token, k.APIKey)
	fmt.Fprintf(&b, "# the client's job changes as they happen (Server-Sent Events; from the first with Last-Event-ID: 0);\n"+
		"# the stream stays open for the next ones: press Ctrl-C to end it\n"+
		"curl -N '%s/patients/composition/jobs/events' -H 'Last-Event-ID: 0' -H 'Authorization: Bearer %s' -H 'api-key: %s'\n\n",
		base, token, k.APIKey)
	_, err = io.WriteString(out, b.String())
	return err
}

// announceWorker prints curl lines for a worker on the write API: create a
// job for the demo client, and complete the pending demo job.
func announceWorker(b *strings.Builder, k *bootstrap.DevKit, base string, pending domain.Job) error {
	token, err := k.Signer.Mint(jwtauth.TokenParams{
		Issuer: bootstrap.DevIssuer, Audience: bootstrap.DevAudience, Subject: bootstrap.DevWorkerID, ClientID: bootstrap.DevWorkerID,
		Scopes: []string{domain.ScopeCompositionJobWrite}, TTL: devTokenTTL,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(b, "write API for workers on %s (client %s, scope %s):\n\n", base, bootstrap.DevWorkerID, domain.ScopeCompositionJobWrite)
	headers := fmt.Sprintf("-H 'Authorization: Bearer %s' -H 'Content-Type: application/json'", token)
	fmt.Fprintf(b, "# a worker creates a job for %s\ncurl -i -X POST '%s/internal/jobs' %s -d '{\"client_id\":\"%s\",\"eta\":\"30s\"}' -w '\\n'\n\n",
		bootstrap.DevClientID, base, headers, bootstrap.DevClientID)
	if pending.ClientID != "" {
		href := bootstrap.DevCompletionHref()
		fmt.Fprintf(b, "# a worker completes the PENDING job (poll it above with -H 'Prefer: wait=25' first)\ncurl -i -X POST '%s/internal/jobs/%s/complete' %s -d '{\"links\":[{\"entity\":\"%s\",\"href\":\"%s\"}]}' -w '\\n'\n\n",
			base, pending.ID, headers, domain.CompositionEntity, href)
	}
	return nil
}

// dialable turns a listen address such as [::]:8080 into one curl can reach.
func dialable(addr net.Addr) string { return bootstrap.DialableAddr(addr.String()) }
