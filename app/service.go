package app

import (
	"context"
	"errors"
	"sync"
	"time"
)

// loop is what the background services share: run a step now and then
// every interval, in one goroutine, from Start until Stop.
type loop struct {
	interval time.Duration
	step     func(ctx context.Context)

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// start launches the goroutine. The step runs with a context of its own,
// detached from ctx's deadline (ctx only starts the service), and ended
// by stop.
func (l *loop) start(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil {
		return errors.New("app: service already started")
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel, l.done = cancel, make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		ticker := time.NewTicker(l.interval)
		defer ticker.Stop()
		for {
			l.step(runCtx)
			select {
			case <-runCtx.Done():
				return
			case <-ticker.C:
			}
		}
	}(l.done)
	return nil
}

// stop ends the goroutine and waits for it, at most until ctx ends. A
// service never started stops at once.
func (l *loop) stop(ctx context.Context) error {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.cancel, l.done = nil, nil
	l.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// signal sends v on ch without blocking; ch is nil outside tests.
func signal[T any](ch chan T, v T) {
	if ch == nil {
		return
	}
	select {
	case ch <- v:
	default:
	}
}
