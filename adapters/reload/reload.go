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
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
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
	// linked are the directories watched beside the files' own (by their
	// resolved path, watchLinks), own those: only the watch's goroutine
	// uses them once started.
	linked map[string]os.FileInfo
	own    map[string]bool

	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a Reloader of files, loaded already (at start, by their
// owners); namespace prefixes its metrics.
func New(files []File, namespace string, logger *zap.Logger) *Reloader {
	r := &Reloader{
		logger: logger,
		linked: map[string]os.FileInfo{},
		own:    map[string]bool{},
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
			r.own[dir] = true
			if real, err := filepath.EvalSymlinks(dir); err == nil {
				r.own[real] = true
			}
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

// maxLinkHops bounds how many paths watchDirs follows from a file's path
// (the kernel's own limit on links is 40): a link loop ends there.
const maxLinkHops = 40

// watchLinks watches, beside each file's directory, every directory a
// change of the file can happen in: the directory of every symbolic link
// on the way from its path to the file it names, the links to
// directories included (a path that is a link into another directory,
// /etc/jobstatus/clients.yaml -> /srv/secrets/clients.yaml, is edited
// there, and a directory link swapped, current -> releases/v2 or
// Kubernetes' ..data, is swapped in the directory holding it). A
// directory that does not exist (removed, or not made yet) is watched
// through its nearest existing parent, whose events bring it back. The
// links are followed anew after every reload: directories no longer on
// the way are no longer watched, and a directory now at the same path
// (made again, or another one a link was swapped to) is watched anew. A
// directory that cannot be watched is logged; SIGHUP still reloads. It
// reports whether it watches a directory it did not watch before.
func (r *Reloader) watchLinks(w *fsnotify.Watcher) bool {
	added := false
	next := map[string]os.FileInfo{}
	for _, f := range r.files {
		if f.path == "" {
			continue
		}
		for _, dir := range watchDirs(f.path) {
			real, info, err := existingDir(dir)
			if err == nil {
				if _, ok := next[real]; ok {
					continue
				}
				// Added again each time: a watch ends with its directory,
				// and Add is cheap for one that still holds.
				err = w.Add(real)
			}
			if err != nil {
				r.logger.Warn("cannot watch a directory the credentials file is reached through; SIGHUP reloads it",
					zap.String("file", f.label), zap.String("dir", dir), zap.Error(err))
				continue
			}
			next[real] = info
			if old, ok := r.linked[real]; !ok || !os.SameFile(old, info) {
				added = true
			}
		}
	}
	for real := range r.linked {
		if _, ok := next[real]; !ok && !r.own[real] {
			_ = w.Remove(real) // gone already with its directory, or no longer on the way
		}
	}
	r.linked = next
	return added
}

// existingDir returns dir with its links resolved, or, when it does not
// exist, its nearest existing parent's, and what it is.
func existingDir(dir string) (string, os.FileInfo, error) {
	for {
		real, err := filepath.EvalSymlinks(dir)
		if err == nil {
			info, err := os.Stat(real)
			return real, info, err
		}
		parent := filepath.Dir(dir)
		if !errors.Is(err, fs.ErrNotExist) || parent == dir {
			return "", nil, err
		}
		dir = parent
	}
}

// watchDirs returns the directories a change of the file at path can
// happen in: path's own, then, for each link on the way, the directory
// holding it and those its target leads through; for a -> b/c -> d/e, a's
// directory, b and d, and for a file in a directory reached through a
// link (cur/f, cur -> v2), the directories of cur and of v2.
func watchDirs(path string) []string {
	var dirs []string
	seen := map[string]bool{}
	queue := []string{path}
	for hops := 0; len(queue) > 0 && hops < maxLinkHops; hops++ {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue // a link loop, or two ways to one place
		}
		seen[p] = true
		dir := filepath.Dir(p)
		if !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
		if info, err := os.Lstat(dir); err == nil && info.Mode()&fs.ModeSymlink != 0 {
			queue = append(queue, dir) // swapped where it is held
		}
		target, err := os.Readlink(p)
		if err != nil {
			continue // not a link: p is the file, or nothing
		}
		if !filepath.IsAbs(target) {
			// Relative to where the link is, its directory's own links
			// resolved: ".." in the target is the kernel's, not a
			// lexical step back.
			base, err := filepath.EvalSymlinks(dir)
			if err != nil {
				base = dir
			}
			target = filepath.Join(base, target)
		}
		queue = append(queue, target)
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
