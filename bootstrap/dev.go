package bootstrap

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/apikey"
	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// Demo identities used by --dev.
const (
	DevClientID   = "mis-demo"
	DevOtherID    = "mis-other"
	DevWorkerID   = "worker-demo" // a worker service allowed to write
	DevIssuer     = "https://auth.jobstatus.dev"
	DevAudience   = "jobstatus"
	devTokenTTL   = 24 * time.Hour
	devSubject    = "demo-doctor"
	devCompletion = "/patients/%s/encounter/%s/composition/%s"
)

// DevKit is what --dev makes up at start: a signing key, an api-key and the
// demo jobs.
type DevKit struct {
	Signer *jwtauth.Signer
	APIKey string
	Jobs   []domain.Job
}

// DevModule replaces AuthModule in --dev: an ephemeral signing key and one
// demo client whose api-key is random per start.
var DevModule = fx.Module("dev",
	fx.Provide(
		newDevKit,
		fx.Annotate(newDevVerifier, fx.As(fx.Self()), fx.As(new(ports.TokenVerifier))),
		fx.Annotate(newDevClients, fx.As(new(ports.ClientStore))),
	),
	verifierContributions,
	fx.Invoke(func(lc fx.Lifecycle, a *app.Operator, k *DevKit) {
		lc.Append(fx.StartHook(func(ctx context.Context) error { return seedDemo(ctx, a, k) }))
	}),
)

func newDevVerifier(lc fx.Lifecycle, k *DevKit, cfg Config, logger *zap.Logger) (*jwtauth.Verifier, error) {
	keys, err := k.Signer.Storage()
	if err != nil {
		return nil, err
	}
	v, err := jwtauth.NewVerifier(jwtauth.Config{Issuer: DevIssuer, Audience: DevAudience, Algorithms: cfg.Auth.Algorithms, Leeway: cfg.Auth.Leeway, RequireAccessTokenType: cfg.Auth.RequireATJWTType, Keys: keys, CacheSize: cfg.Cache.Tokens}, logger.Named("jwt"))
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(v.Close))
	return v, nil
}

func newDevClients(k *DevKit) (*apikey.Store, error) {
	return apikey.New([]apikey.Entry{
		{ID: DevClientID, Name: "Demo clinic MIS", KeySHA256: apikey.Digest(k.APIKey)},
		{ID: DevOtherID, Name: "Another clinic", KeySHA256: apikey.Digest(rand.Text())},
	})
}

func newDevKit() (*DevKit, error) {
	key, err := jwtauth.GenerateKey("ES256")
	if err != nil {
		return nil, err
	}
	signer, err := jwtauth.NewSigner(key)
	if err != nil {
		return nil, err
	}
	return &DevKit{Signer: signer, APIKey: "dev-" + rand.Text()}, nil
}

// seedDemo creates the demo jobs through the use cases, exactly as any
// in-process tool would.
func seedDemo(ctx context.Context, a *app.Operator, k *DevKit) error {
	newJob := func(client string, eta time.Duration) (domain.Job, error) {
		return a.CreateJob.Handle(ctx, app.CreateJob{ClientID: client, ETA: eta})
	}
	pending, err := newJob(DevClientID, 10*time.Minute)
	if err != nil {
		return err
	}
	done, err := newJob(DevClientID, time.Minute)
	if err != nil {
		return err
	}
	href := fmt.Sprintf(devCompletion, domain.NewID(), domain.NewID(), domain.NewID())
	if done, err = a.CompleteJob.Handle(ctx, app.CompleteJob{ID: done.ID.String(),
		Links: []domain.Link{{Entity: domain.CompositionEntity, Href: href}}}); err != nil {
		return err
	}
	failed, err := newJob(DevClientID, time.Minute)
	if err != nil {
		return err
	}
	if failed, err = a.FailJob.Handle(ctx, app.FailJob{ID: failed.ID.String(), Code: 422,
		Message: "Composition signature is not valid"}); err != nil {
		return err
	}
	other, err := newJob(DevOtherID, time.Minute)
	if err != nil {
		return err
	}
	k.Jobs = []domain.Job{pending, done, failed, other}
	return nil
}

// devOptions is the module graph of `serve --dev`: serve's graph on the
// in-memory store, with DevModule in place of AuthModule.
func devOptions(cfg Config, logger *zap.Logger, out io.Writer) fx.Option {
	cfg.Database.URL = "" // --dev always runs on the in-memory store
	if !slices.Contains(cfg.Internal.Writers, DevWorkerID) {
		cfg.Internal.Writers = append(slices.Clone(cfg.Internal.Writers), DevWorkerID)
	}
	return fx.Options(
		serveCore(cfg, logger),
		DevModule,
		fx.Invoke(func(lc fx.Lifecycle, k *DevKit, s *httpapi.Server, w *InternalListener) {
			lc.Append(fx.StartHook(func() error {
				if internal := w.Addr(); internal != nil && cfg.Internal.Addr == devInternalAddr {
					// Said like freeAddrIfTaken's moves: the default port
					// was not tried at all.
					logger.Info("--dev: the write API listens on a free port; set JOBSTATUS_INTERNAL_ADDR to choose one",
						zap.String("listener", "internal"), zap.String("wanted", DefaultConfig().Internal.Addr),
						zap.String("addr", internal.String()))
				}
				return announce(out, k, s.Addr(), w.Addr())
			}))
		}),
	)
}

// announce prints ready-to-paste curl lines for the demo jobs and, when
// the write API listens (internal not nil), for a worker.
func announce(out io.Writer, k *DevKit, addr, internal net.Addr) error {
	token, err := k.Signer.Mint(jwtauth.TokenParams{
		Issuer: DevIssuer, Audience: DevAudience, Subject: devSubject, ClientID: DevClientID,
		Scopes: []string{domain.ScopeCompositionRead}, TTL: devTokenTTL,
	})
	if err != nil {
		return err
	}
	var pending domain.Job
	base := "http://" + dialable(addr)
	var b strings.Builder
	fmt.Fprintf(&b, "\njobstatus --dev is serving on %s (in-memory store, ephemeral signing key)\n", base)
	fmt.Fprintf(&b, "client %s, api-key and token valid for %s:\n\n", DevClientID, devTokenTTL)
	for _, j := range k.Jobs {
		what := string(j.Status)
		if j.ClientID != DevClientID {
			what = "another client's job -> 404"
		}
		fmt.Fprintf(&b, "# %s\ncurl -i '%s/patients/composition/job/%s' -H 'Authorization: Bearer %s' -H 'api-key: %s' -w '\\n'\n\n",
			what, base, j.ID, token, k.APIKey)
		if j.ClientID == DevClientID && j.Status == domain.StatusPending {
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
func announceWorker(b *strings.Builder, k *DevKit, base string, pending domain.Job) error {
	token, err := k.Signer.Mint(jwtauth.TokenParams{
		Issuer: DevIssuer, Audience: DevAudience, Subject: DevWorkerID, ClientID: DevWorkerID,
		Scopes: []string{domain.ScopeCompositionJobWrite}, TTL: devTokenTTL,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(b, "write API for workers on %s (client %s, scope %s):\n\n", base, DevWorkerID, domain.ScopeCompositionJobWrite)
	headers := fmt.Sprintf("-H 'Authorization: Bearer %s' -H 'Content-Type: application/json'", token)
	fmt.Fprintf(b, "# a worker creates a job for %s\ncurl -i -X POST '%s/internal/jobs' %s -d '{\"client_id\":\"%s\",\"eta\":\"30s\"}' -w '\\n'\n\n",
		DevClientID, base, headers, DevClientID)
	if pending.ClientID != "" {
		href := fmt.Sprintf(devCompletion, domain.NewID(), domain.NewID(), domain.NewID())
		fmt.Fprintf(b, "# a worker completes the PENDING job (poll it above with -H 'Prefer: wait=25' first)\ncurl -i -X POST '%s/internal/jobs/%s/complete' %s -d '{\"links\":[{\"entity\":\"%s\",\"href\":\"%s\"}]}' -w '\\n'\n\n",
			base, pending.ID, headers, domain.CompositionEntity, href)
	}
	return nil
}

// dialable turns a listen address such as [::]:8080 into one curl can reach.
func dialable(addr net.Addr) string { return DialableAddr(addr.String()) }

// freeAddrIfTaken returns addr when it can be listened on, and otherwise,
// when its port is in use, the same host with a free port, saying so in a
// log line: a developer running Prometheus or another service on the
// default port still gets a working demo (--dev only; in production a
// taken port is an error). The port is probed and released, so another
// process could take it in between; a demo accepts that.
func freeAddrIfTaken(addr, listener string, logger *zap.Logger) string {
	if addr == "" {
		return addr
	}
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		_ = ln.Close()
		return addr
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return addr // the listener reports it with its own error
	}
	host, _, splitErr := net.SplitHostPort(addr)
	if splitErr != nil {
		return addr
	}
	free, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return addr
	}
	got := free.Addr().String()
	_ = free.Close()
	logger.Warn("port in use, using a free one instead", zap.String("listener", listener),
		zap.String("wanted", addr), zap.String("addr", got))
	return got
}
