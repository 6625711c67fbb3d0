package bootstrap

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/apikey"
	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/internal/credfile"
)

// reloadDebounce gathers the events of one change (an editor's write, an
// atomic rename, a Kubernetes ..data symlink swap: several events each)
// into one reload.
const reloadDebounce = 250 * time.Millisecond

// Labels of the reloaded files in metrics, logs and /readyz.
const (
	fileAPIKeys = "api_keys"
	fileJWKS    = "jwks"
)

// ReloadModule reloads the api-keys file and the JWKS (file or URL) on
// SIGHUP, and the files when they change on disk, keeping the last good
// set when a new one is refused.
var ReloadModule = fx.Module("reload",
	fx.Provide(
		newReloader,
		readiness(func(r *reloader) httpapi.Check { return httpapi.Check{Name: "config", Fn: r.Ready} }),
		collector(func(r *reloader) prometheus.Collector { return r }),
	),
	fx.Invoke(func(lc fx.Lifecycle, r *reloader) { lc.Append(fx.Hook{OnStart: r.Start, OnStop: r.Stop}) }),
)

// reloadable is one reloaded source of credentials.
type reloadable struct {
	label string
	path  string                                       // empty: reloaded on SIGHUP only (a JWKS URL)
	limit int64                                        // the most bytes read from path
	load  func(ctx context.Context, data []byte) error // data: the file's content

	mu       sync.Mutex
	seen     [sha256.Size]byte // content of the last attempt: unchanged content is not reloaded
	loadedAt time.Time         // last success, the start included
	failedAt time.Time         // last failure, zero after a success
	failure  error
}

// reloader reloads credentials files; it is a prometheus.Collector of its
// own metrics.
type reloader struct {
	files  []*reloadable
	logger *zap.Logger
	total  *prometheus.CounterVec
	lastOK *prometheus.GaugeVec

	cancel context.CancelFunc
	done   chan struct{}
}

func newReloader(cfg Config, clients *apikey.Store, v *jwtauth.Verifier, logger *zap.Logger) (*reloader, error) {
	r := &reloader{
		logger: logger.Named("reload"),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "config_reload_total",
			Help: "Reloads of the api-keys file and the JWKS, by file and result (success or failure)."}, []string{"file", "result"}),
		lastOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "config_reload_last_success_timestamp_seconds",
			Help: "When the file was last loaded successfully (at start or by a reload), as a Unix time."}, []string{"file"}),
	}
	r.files = append(r.files, &reloadable{label: fileAPIKeys, path: cfg.APIKeysFile, limit: apikey.MaxFileSize,
		load: func(_ context.Context, data []byte) error {
			next, err := apikey.Parse(data)
			if err != nil {
				return fmt.Errorf("api keys file %s: %w", cfg.APIKeysFile, err)
			}
			clients.Replace(next)
			r.logger.Info("api keys reloaded", zap.Int("clients", next.Len()))
			return nil
		}})
	r.files = append(r.files, &reloadable{label: fileJWKS, path: cfg.Auth.JWKSFile, limit: jwtauth.MaxJWKSSize,
		load: func(ctx context.Context, data []byte) error {
			if data != nil {
				// The verifier uses any JWK Set it is given; refuse one
				// without a usable key here, so the last good keys stay.
				set, err := jwtauth.ParseJWKS(data)
				if err != nil {
					return fmt.Errorf("JWKS file %s: %w", cfg.Auth.JWKSFile, err)
				}
				if set.Len() == 0 {
					return fmt.Errorf("JWKS file %s holds no usable verification key", cfg.Auth.JWKSFile)
				}
			}
			if err := v.Reload(ctx); err != nil {
				return err
			}
			r.logger.Info("JWKS reloaded")
			return nil
		}})
	now := time.Now()
	for _, f := range r.files {
		f.loadedAt = now
		r.total.WithLabelValues(f.label, "success")
		r.total.WithLabelValues(f.label, "failure")
		r.lastOK.WithLabelValues(f.label).Set(float64(now.Unix()))
		if f.path != "" {
			if data, err := credfile.Read(context.Background(), f.path, f.limit); err == nil {
				f.seen = sha256.Sum256(data)
			}
		}
	}
	return r, nil
}

// Start watches the files' directories and SIGHUP until Stop.
func (r *reloader) Start(context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch credentials files: %w", err)
	}
	// The directory, not the file: an atomic rename or a Kubernetes
	// symlink swap replaces the file a watch on it would follow.
	dirs := map[string]bool{}
	for _, f := range r.files {
		if dir := filepath.Dir(f.path); f.path != "" && !dirs[dir] {
			if err := w.Add(dir); err != nil {
				_ = w.Close()
				return fmt.Errorf("watch %s: %w", dir, err)
			}
			dirs[dir] = true
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		defer signal.Stop(hup)
		defer w.Close()
		r.loop(ctx, w, hup)
	}()
	return nil
}

// Stop ends the watch.
func (r *reloader) Stop(context.Context) error {
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
	return nil
}

func (r *reloader) loop(ctx context.Context, w *fsnotify.Watcher, hup <-chan os.Signal) {
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	for {
		select {
		case <-ctx.Done():
			debounce.Stop()
			return
		case _, ok := <-w.Events:
			if !ok {
				return
			}
			debounce.Reset(reloadDebounce)
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			r.logger.Warn("watching credentials files", zap.Error(err))
		case <-debounce.C:
			r.reload(ctx, false)
		case <-hup:
			r.logger.Info("SIGHUP: reloading api keys and JWKS")
			r.reload(ctx, true)
		}
		_ = r.logger.Sync()
	}
}

// reload loads every file again; unless force, only those whose content
// changed since the last attempt.
func (r *reloader) reload(ctx context.Context, force bool) {
	for _, f := range r.files {
		r.reloadOne(ctx, f, force)
	}
}

func (r *reloader) reloadOne(ctx context.Context, f *reloadable, force bool) {
	if f.path == "" && !force {
		return
	}
	var data []byte
	var err error
	if f.path != "" {
		// Not os.ReadFile: a named pipe at the path would block the loop,
		// later reloads and the shutdown with it.
		data, err = credfile.Read(ctx, f.path, f.limit)
		if err != nil && !force && errors.Is(err, os.ErrNotExist) {
			return // between the steps of a rename; the next event brings the file
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		sum := sha256.Sum256(data)
		if !force && sum == f.seen {
			return
		}
		f.seen = sum
		err = f.load(ctx, data)
	}
	if err != nil {
		f.failedAt, f.failure = time.Now(), err
		r.total.WithLabelValues(f.label, "failure").Inc()
		r.logger.Error("reload refused; keeping the last good set", zap.String("file", f.label), zap.Error(err))
		return
	}
	f.loadedAt, f.failedAt, f.failure = time.Now(), time.Time{}, nil
	r.total.WithLabelValues(f.label, "success").Inc()
	r.lastOK.WithLabelValues(f.label).Set(float64(f.loadedAt.Unix()))
}

// Ready says when each file was loaded and whether its last reload was
// refused. A refused reload leaves the instance ready: it serves the last
// good set, and a bad file pushed to every instance must not take them all
// out of rotation at once; the answer says so, as do the log and the
// metrics.
func (r *reloader) Ready(context.Context) (string, error) {
	var parts []string
	for _, f := range r.files {
		f.mu.Lock()
		part := fmt.Sprintf("%s loaded %s", f.label, f.loadedAt.UTC().Format(time.RFC3339))
		if f.failure != nil {
			part = fmt.Sprintf("%s: last reload at %s refused (%v), serving the set loaded %s", f.label,
				f.failedAt.UTC().Format(time.RFC3339), f.failure, f.loadedAt.UTC().Format(time.RFC3339))
		}
		f.mu.Unlock()
		parts = append(parts, part)
	}
	return strings.Join(parts, "; "), nil
}

// Describe implements prometheus.Collector.
func (r *reloader) Describe(ch chan<- *prometheus.Desc) {
	r.total.Describe(ch)
	r.lastOK.Describe(ch)
}

// Collect implements prometheus.Collector.
func (r *reloader) Collect(ch chan<- prometheus.Metric) {
	r.total.Collect(ch)
	r.lastOK.Collect(ch)
}
