package bootstrap

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"slices"
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
	devCompletion = "/patients/%s/encounter/%s/composition/%s"
)

// DevKit is what --dev makes up at start: a signing key, an api-key and the
// demo jobs.
type DevKit struct {
	Signer *jwtauth.Signer
	APIKey string
	Jobs   []domain.Job
}

// DevDemo is what `serve --dev` made up and where it listens, for the
// command line to show (curl lines).
type DevDemo struct {
	Kit      *DevKit
	Public   net.Addr
	Internal net.Addr // nil: the write API is off
}

// DevCompletionHref is a fresh href of a composition, as the demo's DONE
// job links to.
func DevCompletionHref() string {
	return fmt.Sprintf(devCompletion, domain.NewID(), domain.NewID(), domain.NewID())
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
	href := DevCompletionHref()
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
func devOptions(cfg Config, logger *zap.Logger, started func(DevDemo) error) fx.Option {
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
				if started == nil {
					return nil
				}
				return started(DevDemo{Kit: k, Public: s.Addr(), Internal: w.Addr()})
			}))
		}),
	)
}

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
