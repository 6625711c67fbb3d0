// Package reload reloads files on SIGHUP and when they change on disk,
// keeping the last good content when a new one is refused; it reports each
// file's state for readiness and as metrics. What a file's content means is
// the caller's (File.Load).
package reload

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
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/internal/credfile"
)

// reloadDebounce gathers the events of one change (an editor's write, an
// atomic rename, a Kubernetes ..data symlink swap: several events each)
// into one reload, which comes reloadDebounce after the first of them:
// later events do not put it off, or a file that another writer changes
// more often (a log or a lock file in the same directory) would keep a
// changed api-keys file from ever being reloaded.
const reloadDebounce = 250 * time.Millisecond

// File is one reloaded source.
type File struct {
	// Label names the file in metrics, logs and readiness.
	Label string
	// Path is watched; empty: reloaded on SIGHUP only (a URL the loader
	// fetches itself). It is read as a regular file only, in bounded time
	// (credfile.Read): a named pipe, a directory or a device there is
	// refused like a bad file, never read.
	Path string
	// MaxSize is the most bytes read from Path; a larger file is refused.
	MaxSize int64
	// Load applies data, the file's content (nil without Path); an error
	// refuses it and the last good content stays.
	Load func(ctx context.Context, data []byte) error
}

// reloadable is one File and its state.
type reloadable struct {
	label   string
	path    string
	maxSize int64
	load    func(ctx context.Context, data []byte) error

	mu       sync.Mutex
	seen     [sha256.Size]byte // content of the last attempt: unchanged content is not reloaded
	loadedAt time.Time         // last success, the start included
	failedAt time.Time         // last failure, zero after a success
	failure  error
}

// Reloader reloads files; it is a prometheus.Collector of its own
// metrics.
type Reloader struct {
	files  []*reloadable
	logger *zap.Logger
	total  *prometheus.CounterVec
	lastOK *prometheus.GaugeVec
	// linked are the directories watched for links (watchLinks), which
	// only the watch's goroutine uses once started.
	linked map[string]bool

	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a Reloader of files, loaded already (at start, by their
// owners); namespace prefixes its metrics.
func New(files []File, namespace string, logger *zap.Logger) *Reloader {
	r := &Reloader{
		logger: logger,
		linked: map[string]bool{},
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "config_reload_total",
			Help: "Reloads of the api-keys file and the JWKS, by file and result (success or failure)."}, []string{"file", "result"}),
		lastOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "config_reload_last_success_timestamp_seconds",
			Help: "When the file was last loaded successfully (at start or by a reload), as a Unix time."}, []string{"file"}),
	}
	for _, f := range files {
		r.files = append(r.files, &reloadable{label: f.Label, path: f.Path, maxSize: f.MaxSize, load: f.Load})
	}
	now := time.Now()
	for _, f := range r.files {
		f.loadedAt = now
		r.total.WithLabelValues(f.label, "success")
		r.total.WithLabelValues(f.label, "failure")
		r.lastOK.WithLabelValues(f.label).Set(float64(now.Unix()))
		if f.path != "" {
			if data, err := credfile.Read(context.Background(), f.path, f.maxSize); err == nil {
				f.seen = sha256.Sum256(data)
			}
		}
	}
	return r
}

// Start watches the files' directories and SIGHUP until Stop.
func (r *Reloader) Start(context.Context) error {
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
	r.watchLinks(w)
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
func (r *Reloader) Stop(context.Context) error {
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
	return nil
}

func (r *Reloader) loop(ctx context.Context, w *fsnotify.Watcher, hup <-chan os.Signal) {
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	pending := false // the timer runs for events not yet reloaded
	for {
		select {
		case <-ctx.Done():
			debounce.Stop()
			return
		case _, ok := <-w.Events:
			if !ok {
				return
			}
			if !pending {
				debounce.Reset(reloadDebounce)
				pending = true
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			r.logger.Warn("watching credentials files", zap.Error(err))
		case <-debounce.C:
			pending = false
			r.reloadWatched(ctx, w, false)
		case <-hup:
			r.logger.Info("SIGHUP: reloading", zap.Strings("files", r.labels()))
			r.reloadWatched(ctx, w, true)
		}
		_ = r.logger.Sync()
	}
}

// maxLinkHops bounds how many symbolic links watchLinks follows from a
// file's path (the kernel's own limit is 40).
const maxLinkHops = 40

// watchLinks watches, beside each file's directory, the directory of every
// symbolic link on the way from its path to the file it names: a path
// that is a link into another directory (/etc/jobstatus/clients.yaml ->
// /srv/secrets/clients.yaml) is edited there, where a watch on its own
// directory sees nothing. The links are followed anew after every reload,
// so a link moved to another file is followed too. A directory that cannot
// be watched is logged; SIGHUP still reloads. It reports whether it
// watches a directory it did not watch before.
func (r *Reloader) watchLinks(w *fsnotify.Watcher) bool {
	added := false
	for _, f := range r.files {
		if f.path == "" {
			continue
		}
		// Added again each time: a directory now at the same path (a
		// link swapped to a new one) is another directory to watch.
		for _, dir := range linkDirs(f.path) {
			if err := w.Add(dir); err != nil {
				r.logger.Warn("cannot watch the directory a credentials file links to; SIGHUP reloads it",
					zap.String("file", f.label), zap.String("dir", dir), zap.Error(err))
				continue
			}
			if !r.linked[dir] {
				r.linked[dir], added = true, true
			}
		}
	}
	return added
}

// linkDirs returns the directories of the links path leads through, after
// path's own: for a -> b/c -> d/e, b and d.
func linkDirs(path string) []string {
	var dirs []string
	for range maxLinkHops {
		target, err := os.Readlink(path)
		if err != nil {
			break // not a link (any more): path is the file, or nothing
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
		dirs = append(dirs, filepath.Dir(path))
	}
	return dirs
}

// reloadWatched reloads, then watches where the files' links now lead.
func (r *Reloader) reloadWatched(ctx context.Context, w *fsnotify.Watcher, force bool) {
	r.reload(ctx, force)
	if r.watchLinks(w) {
		// A file written after the reload read it and before its
		// directory was watched has made no event: read it again.
		r.reload(ctx, false)
	}
}

// reload loads every file again; unless force, only those whose content
// changed since the last attempt.
func (r *Reloader) reload(ctx context.Context, force bool) {
	for _, f := range r.files {
		r.reloadOne(ctx, f, force)
	}
}

func (r *Reloader) reloadOne(ctx context.Context, f *reloadable, force bool) {
	if f.path == "" && !force {
		return
	}
	var data []byte
	var err error
	readErr := false
	if f.path != "" {
		// Not os.ReadFile: a named pipe at the path would block the loop,
		// later reloads and the shutdown with it.
		data, err = credfile.Read(ctx, f.path, f.maxSize)
		if err != nil && !force && errors.Is(err, os.ErrNotExist) {
			return // between the steps of a rename; the next event brings the file
		}
		readErr = err != nil
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
		if readErr {
			// The file could not be read: forget what was last seen, so the
			// next readable content is loaded even when it is the content
			// loaded before (the good file put back) and clears the failure.
			f.seen = [sha256.Size]byte{}
		}
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
func (r *Reloader) Ready(context.Context) (string, error) {
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
func (r *Reloader) Describe(ch chan<- *prometheus.Desc) {
	r.total.Describe(ch)
	r.lastOK.Describe(ch)
}

// Collect implements prometheus.Collector.
func (r *Reloader) Collect(ch chan<- prometheus.Metric) {
	r.total.Collect(ch)
	r.lastOK.Collect(ch)
}

// labels names the files, for logs.
func (r *Reloader) labels() []string {
	out := make([]string, 0, len(r.files))
	for _, f := range r.files {
		out = append(out, f.label)
	}
	return out
}
