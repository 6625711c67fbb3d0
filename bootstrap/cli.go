package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/term"

	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/adapters/report"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
)

// IO is where a command reads its environment and writes its output.
type IO struct {
	Stdout  io.Writer
	Stderr  io.Writer
	Environ []string
}

// usageError marks mistakes in the command line (exit status 2).
type usageError struct{ error }

// Execute runs the command line and returns the process exit status.
func Execute(ctx context.Context, argv []string, stdio IO) int {
	root := newRootCmd(stdio)
	root.SetArgs(argv)
	root.SetOut(stdio.Stdout)
	root.SetErr(stdio.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stdio.Stderr, "jobstatus: %s\n", describe(err))
	var ue usageError
	var ve *domain.ValidationError
	// cobra reports missing required flags and unknown commands as plain
	// errors; everything else of the command line is wrapped as usageError.
	msg := err.Error()
	if errors.As(err, &ue) || errors.As(err, &ve) ||
		strings.HasPrefix(msg, "required flag(s)") || strings.HasPrefix(msg, "unknown command") {
		return 2
	}
	return 1
}

// args wraps a cobra argument check so its failures are usage errors.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// describe turns domain errors into sentences for a person at a terminal.
func describe(err error) string {
	var v *domain.ValidationError
	switch {
	case errors.As(err, &v):
		return v.Error()
	case errors.Is(err, domain.ErrNotFound):
		return "job not found"
	case errors.Is(err, domain.ErrConflict):
		return "job already finished with a different outcome"
	case errors.Is(err, domain.ErrAlreadyExists):
		return "a job with this id exists already"
	case errors.Is(err, domain.ErrUnavailable):
		return "database unavailable: " + err.Error()
	}
	return err.Error()
}

func newRootCmd(stdio IO) *cobra.Command {
	root := &cobra.Command{
		Use:           "jobstatus",
		Short:         "Status of asynchronous composition jobs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServeCmd(stdio), newMigrateCmd(stdio), newJobsCmd(stdio), newReportCmd(stdio),
		newTokenCmd(stdio), newKeygenCmd(stdio))
	return root
}

func loadConfig(stdio IO) (Config, error) {
	return LoadConfig(stdio.Environ)
}

func envSet(stdio IO, name string) bool {
	for _, kv := range stdio.Environ {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}

func newServeCmd(stdio IO) *cobra.Command {
	var dev, migrate bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP service",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(stdio)
			if err != nil {
				return err
			}
			if dev {
				// A demo binds to loopback unless told otherwise.
				if !envSet(stdio, "JOBSTATUS_HTTP_ADDR") && cfg.HTTP.Addr == DefaultConfig().HTTP.Addr {
					cfg.HTTP.Addr = "127.0.0.1:8080"
				}
				if !envSet(stdio, "JOBSTATUS_LOG_FORMAT") {
					cfg.Log.Format = "console"
				}
			}
			mode := ModeServe
			if dev {
				mode = ModeDev
			}
			if err := cfg.Validate(mode); err != nil {
				return fmt.Errorf("configuration: %w", err)
			}
			// One access-log line per request: buffer them rather than pay a
			// write per request; flushed every second and at exit.
			logs := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(stdio.Stderr), Size: 256 << 10, FlushInterval: time.Second}
			defer func() { _ = logs.Stop() }()
			logger, err := NewLogger(cfg.Log, logs)
			if err != nil {
				return err
			}
			if migrate && !dev {
				if err := runMigrations(cmd.Context(), cfg, logger); err != nil {
					return err
				}
			}
			opts := ServeOptions(cfg, logger)
			if dev {
				opts = devOptions(cfg, logger, stdio.Stdout)
			}
			return runService(cmd.Context(), fx.New(opts), cfg, logger)
		},
	}
	cmd.Flags().BoolVar(&dev, "dev", false, "in-memory demo jobs, an ephemeral signing key, and curl lines printed at start")
	cmd.Flags().BoolVar(&migrate, "migrate", false, "apply database migrations before serving")
	return cmd
}

// runService starts the app, waits for SIGINT/SIGTERM or ctx, and stops it
// within the configured shutdown time.
func runService(ctx context.Context, a *fx.App, cfg Config, logger *zap.Logger) error {
	if err := a.Err(); err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(ctx, a.StartTimeout())
	defer cancel()
	if err := a.Start(startCtx); err != nil {
		return err
	}
	select {
	case sig := <-a.Wait():
		logger.Info("shutting down", zap.String("signal", sig.Signal.String()))
	case <-ctx.Done():
		logger.Info("shutting down", zap.String("reason", "context done"))
	}
	stopCtx, cancelStop := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout+5*time.Second)
	defer cancelStop()
	if err := a.Stop(stopCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

func runMigrations(ctx context.Context, cfg Config, logger *zap.Logger) error {
	res, err := migrateDB(ctx, cfg)
	if err != nil {
		return err
	}
	logger.Info("migrations applied", zap.Int64s("applied", res.Applied), zap.Int64("version", res.Current))
	return nil
}

// migrateDB applies the embedded migrations to the configured database.
func migrateDB(ctx context.Context, cfg Config) (postgres.MigrationResult, error) {
	if cfg.Database.URL == "" {
		return postgres.MigrationResult{}, usageError{errors.New("migrate needs JOBSTATUS_DATABASE_URL")}
	}
	db, err := postgres.Open(cfg.Database.URL, postgres.PoolConfig{MaxOpenConns: 2})
	if err != nil {
		return postgres.MigrationResult{}, err
	}
	defer db.Close()
	return postgres.Migrate(ctx, db)
}

func newMigrateCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(stdio)
			if err != nil {
				return err
			}
			res, err := migrateDB(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if res.Applied == nil {
				res.Applied = []int64{}
			}
			return printJSON(stdio.Stdout, map[string]any{"applied": res.Applied, "version": res.Current})
		},
	}
}

// withApp runs fn against the use cases wired to the configured store, in
// process, with no HTTP.
func withApp(ctx context.Context, stdio IO, fn func(*app.Application) error) error {
	cfg, err := loadConfig(stdio)
	if err != nil {
		return err
	}
	if cfg.Database.URL == "" {
		return usageError{errors.New("this command needs JOBSTATUS_DATABASE_URL: the in-memory store lives only inside one process")}
	}
	cfg.Log.Level = "warn"
	logger, err := NewLogger(cfg.Log, stdio.Stderr)
	if err != nil {
		return err
	}
	var a *app.Application
	fxApp := fx.New(ToolOptions(cfg, logger), fx.Populate(&a))
	if err := fxApp.Err(); err != nil {
		return err
	}
	if err := fxApp.Start(ctx); err != nil {
		return err
	}
	runErr := fn(a)
	stopErr := fxApp.Stop(context.Background())
	return errors.Join(runErr, stopErr)
}

// JobView is how the job commands print a job.
type JobView struct {
	ID         string          `json:"id"`
	ClientID   string          `json:"client_id"`
	Status     domain.Status   `json:"status"`
	ETA        time.Time       `json:"eta"`
	Links      []domain.Link   `json:"links"`
	Error      *domain.Failure `json:"error,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
}

func viewOf(j domain.Job) JobView {
	return JobView{ID: j.ID.String(), ClientID: j.ClientID, Status: j.Status, ETA: j.ETA, Links: j.Links,
		Error: j.Failure, CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, FinishedAt: j.FinishedAt}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newJobsCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{Use: "jobs", Short: "Create, finish and inspect jobs in-process (no HTTP)"}

	var client, id, idempotencyKey string
	var eta time.Duration
	create := &cobra.Command{
		Use:   "create --client ID [--id UUID] [--eta DURATION]",
		Short: "Create a PENDING job",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withApp(cmd.Context(), stdio, func(a *app.Application) error {
				if eta == 0 {
					// Estimate from the store's recent history, as the service does.
					if err := a.ETA.Refresh(cmd.Context()); err != nil {
						return err
					}
				}
				j, err := a.CreateJob.Handle(cmd.Context(), app.CreateJob{ClientID: client, ID: id, ETA: eta,
					IdempotencyKey: idempotencyKey})
				if err != nil {
					return err
				}
				return printJSON(stdio.Stdout, viewOf(j))
			})
		},
	}
	create.Flags().StringVar(&client, "client", "", "owning MIS client id (required)")
	create.Flags().StringVar(&id, "id", "", "job id (UUID); random when omitted")
	create.Flags().StringVar(&idempotencyKey, "idempotency-key", "",
		"repeat-safe create: while the client's job with this key is PENDING, print that job instead")
	create.Flags().DurationVar(&eta, "eta", 0, "expected time to completion (default: estimated from recent jobs)")
	_ = create.MarkFlagRequired("client")

	var links []string
	complete := &cobra.Command{
		Use:   "complete ID --link ENTITY=HREF...",
		Short: "Move a PENDING job to DONE",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			parsed, err := parseLinks(links)
			if err != nil {
				return err
			}
			return withApp(cmd.Context(), stdio, func(a *app.Application) error {
				j, err := a.CompleteJob.Handle(cmd.Context(), app.CompleteJob{ID: args[0], Links: parsed})
				if err != nil {
					return err
				}
				return printJSON(stdio.Stdout, viewOf(j))
			})
		},
	}
	complete.Flags().StringArrayVar(&links, "link", nil, "ENTITY=HREF, repeatable (at least one)")
	_ = complete.MarkFlagRequired("link")

	var code int
	var message string
	fail := &cobra.Command{
		Use:   "fail ID --code N --message TEXT",
		Short: "Move a PENDING job to FAILED",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd.Context(), stdio, func(a *app.Application) error {
				j, err := a.FailJob.Handle(cmd.Context(), app.FailJob{ID: args[0], Code: code, Message: message})
				if err != nil {
					return err
				}
				return printJSON(stdio.Stdout, viewOf(j))
			})
		},
	}
	fail.Flags().IntVar(&code, "code", 0, "failure code (required, non-zero)")
	fail.Flags().StringVar(&message, "message", "", "failure message (required)")
	_ = fail.MarkFlagRequired("code")
	_ = fail.MarkFlagRequired("message")

	get := &cobra.Command{
		Use:   "get ID",
		Short: "Print a job",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd.Context(), stdio, func(a *app.Application) error {
				j, err := a.GetJob.Handle(cmd.Context(), app.GetJob{ID: args[0]})
				if err != nil {
					return err
				}
				return printJSON(stdio.Stdout, viewOf(j))
			})
		},
	}
	var olderThan time.Duration
	var dryRun bool
	purge := &cobra.Command{
		Use:   "purge --older-than DURATION [--dry-run]",
		Short: "Delete DONE and FAILED jobs that finished longer ago than DURATION, in batches",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withApp(cmd.Context(), stdio, func(a *app.Application) error {
				n, err := a.PurgeJobs.Handle(cmd.Context(), app.PurgeJobs{OlderThan: olderThan, DryRun: dryRun})
				if err != nil {
					return fmt.Errorf("purged %d jobs, then: %w", n, err)
				}
				return printJSON(stdio.Stdout, map[string]any{"dry_run": dryRun, "jobs": n})
			})
		},
	}
	purge.Flags().DurationVar(&olderThan, "older-than", 0, "age of the finish time, e.g. 720h (required)")
	purge.Flags().BoolVar(&dryRun, "dry-run", false, "only count what would be deleted")
	_ = purge.MarkFlagRequired("older-than")

	cmd.AddCommand(create, complete, fail, get, purge)
	return cmd
}

func newReportCmd(stdio IO) *cobra.Command {
	var from, to, client, format string
	cmd := &cobra.Command{
		Use:   "report --from DATE --to DATE [--client ID] [--format csv|json|table]",
		Short: "Jobs per day, client and status; time to DONE; top failures (in-process, streamed)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fromDay, err := time.Parse(time.DateOnly, from)
			if err != nil {
				return usageError{fmt.Errorf("--from %q: want YYYY-MM-DD", from)}
			}
			toDay, err := time.Parse(time.DateOnly, to)
			if err != nil {
				return usageError{fmt.Errorf("--to %q: want YYYY-MM-DD", to)}
			}
			sink, err := report.New(format, stdio.Stdout, report.Header{From: fromDay, To: toDay, ClientID: client})
			if err != nil {
				return usageError{err}
			}
			if f, ok := stdio.Stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				sink = report.Progress(sink, stdio.Stderr, 200*time.Millisecond)
			}
			return withApp(cmd.Context(), stdio, func(a *app.Application) error {
				return a.Report.Handle(cmd.Context(), app.Report{From: fromDay, To: toDay, ClientID: client}, sink)
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "first day, YYYY-MM-DD (UTC, required)")
	cmd.Flags().StringVar(&to, "to", "", "last day, YYYY-MM-DD (UTC, inclusive, required)")
	cmd.Flags().StringVar(&client, "client", "", "only this client's jobs")
	cmd.Flags().StringVar(&format, "format", "table", "csv, json or table")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

func parseLinks(in []string) ([]domain.Link, error) {
	out := make([]domain.Link, 0, len(in))
	for _, l := range in {
		entity, href, ok := strings.Cut(l, "=")
		if !ok || entity == "" || href == "" {
			return nil, usageError{fmt.Errorf("--link %q: want ENTITY=HREF", l)}
		}
		out = append(out, domain.Link{Entity: entity, Href: href})
	}
	return out, nil
}

func newTokenCmd(stdio IO) *cobra.Command {
	var keyFile, client, scope, subject, issuer, audience string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token --key FILE --client ID [--scope S] [--ttl D]",
		Short: "Mint an access token (development and tests)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(stdio)
			if err != nil {
				return err
			}
			if issuer == "" {
				issuer = cfg.Auth.Issuer
			}
			if audience == "" {
				audience = cfg.Auth.Audience
			}
			if issuer == "" || audience == "" {
				return usageError{errors.New("token needs --issuer and --audience (or JOBSTATUS_AUTH_ISSUER and JOBSTATUS_AUTH_AUDIENCE)")}
			}
			key, err := jwtauth.LoadPrivateKey(keyFile)
			if err != nil {
				return err
			}
			signer, err := jwtauth.NewSigner(key)
			if err != nil {
				return err
			}
			tok, err := signer.Mint(jwtauth.TokenParams{Issuer: issuer, Audience: audience, Subject: subject,
				ClientID: client, Scopes: strings.Fields(scope), TTL: ttl})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(stdio.Stdout, tok)
			return err
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "PEM private key (required)")
	cmd.Flags().StringVar(&client, "client", "", "client_id claim (required)")
	cmd.Flags().StringVar(&scope, "scope", domain.ScopeCompositionRead, "space-separated scopes")
	cmd.Flags().DurationVar(&ttl, "ttl", time.Hour, "lifetime")
	cmd.Flags().StringVar(&subject, "subject", "dev-user", "sub claim")
	cmd.Flags().StringVar(&issuer, "issuer", "", "iss claim (default $JOBSTATUS_AUTH_ISSUER)")
	cmd.Flags().StringVar(&audience, "audience", "", "aud claim (default $JOBSTATUS_AUTH_AUDIENCE)")
	_ = cmd.MarkFlagRequired("key")
	_ = cmd.MarkFlagRequired("client")
	return cmd
}

func newKeygenCmd(stdio IO) *cobra.Command {
	var alg, keyOut, jwksOut string
	cmd := &cobra.Command{
		Use:   "keygen --key-out FILE --jwks-out FILE [--alg ES256|RS256|EdDSA]",
		Short: "Make a signing key and its public JWKS (development and tests)",
		Args:  args(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			key, err := jwtauth.GenerateKey(alg)
			if err != nil {
				return usageError{err}
			}
			signer, err := jwtauth.NewSigner(key)
			if err != nil {
				return err
			}
			pemBytes, err := jwtauth.EncodePrivateKey(key)
			if err != nil {
				return err
			}
			jwks, err := signer.JWKS()
			if err != nil {
				return err
			}
			if err := os.WriteFile(keyOut, pemBytes, 0o600); err != nil {
				return err
			}
			if err := os.WriteFile(jwksOut, append(jwks, '\n'), 0o644); err != nil {
				return err
			}
			return printJSON(stdio.Stdout, map[string]string{"kid": signer.KID(), "alg": signer.Alg(), "key": keyOut, "jwks": jwksOut})
		},
	}
	cmd.Flags().StringVar(&alg, "alg", "ES256", "ES256, RS256 or EdDSA")
	cmd.Flags().StringVar(&keyOut, "key-out", "", "where to write the private key (PEM, mode 0600)")
	cmd.Flags().StringVar(&jwksOut, "jwks-out", "", "where to write the public JWK Set")
	_ = cmd.MarkFlagRequired("key-out")
	_ = cmd.MarkFlagRequired("jwks-out")
	return cmd
}
