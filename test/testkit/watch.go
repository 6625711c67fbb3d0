package testkit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jobstatus/jobstatus/client"
)

// Watcher gathers a client's Watch in the background.
type Watcher struct {
	mu      sync.Mutex
	changes []client.Change
	cancel  context.CancelFunc
	done    chan struct{}
}

// Watch starts c.Watch(last) in the background; Stop ends it.
func Watch(c *client.Client, last string) *Watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for ch, err := range c.Watch(ctx, last) {
			if err != nil {
				return
			}
			w.mu.Lock()
			w.changes = append(w.changes, ch)
			w.mu.Unlock()
		}
	}()
	return w
}

// Changes returns the changes gathered so far.
func (w *Watcher) Changes() []client.Change {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]client.Change(nil), w.changes...)
}

// WaitFor waits until the watcher holds n changes and returns them.
func (w *Watcher) WaitFor(t *testing.T, n int) []client.Change {
	t.Helper()
	Eventually(t, 60*time.Second, func() bool { return len(w.Changes()) >= n }, "wanted %d changes", n)
	return w.Changes()
}

// Stop ends the watch and returns every change it gathered.
func (w *Watcher) Stop() []client.Change {
	w.cancel()
	<-w.done
	return w.Changes()
}
