package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/lib/pq"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/domain"
)

// Channel is the NOTIFY channel the schema's trigger announces changes on.
const Channel = "async_job_changed"

// Listener turns PostgreSQL notifications into calls of onChange, on one
// dedicated connection that reconnects by itself. After a reconnect it calls
// onReset, since notifications sent meanwhile are lost.
type Listener struct {
	l      *pq.Listener
	done   chan struct{}
	once   sync.Once
	logger *zap.Logger
}

// Listen starts listening in the background; it does not wait for the
// database, which may still be down. Every argument is required.
func Listen(url string, onChange func(domain.ID), onReset func(), logger *zap.Logger) (*Listener, error) {
	if url == "" || onChange == nil || onReset == nil || logger == nil {
		return nil, errors.New("postgres listener: url, change and reset callbacks and logger are required")
	}
	ln := &Listener{done: make(chan struct{}), logger: logger}
	// Reconnect backoff from 100 ms up to 2 s: quick to come back, and
	// lib/pq's reconnect loop sleeps out its backoff before it notices Close,
	// so its goroutine outlives Close by at most 2 s.
	ln.l = pq.NewListener(url, 100*time.Millisecond, 2*time.Second, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventConnectionAttemptFailed:
			logger.Warn("notification listener cannot connect", zap.Error(err))
		case pq.ListenerEventDisconnected:
			logger.Warn("notification listener disconnected", zap.Error(err))
		case pq.ListenerEventReconnected:
			logger.Info("notification listener reconnected")
		}
	})
	go func() {
		// Listen blocks until the first connection succeeds.
		if err := ln.l.Listen(Channel); err != nil && !errors.Is(err, pq.ErrChannelAlreadyOpen) {
			select {
			case <-ln.done:
			default:
				logger.Error("listen for job changes", zap.Error(err))
			}
		}
	}()
	go func() {
		for {
			select {
			case <-ln.done:
				return
			case n, ok := <-ln.l.Notify:
				if !ok {
					return
				}
				if n == nil { // reconnected: anything may have changed
					onReset()
					continue
				}
				if id, err := domain.ParseID(n.Extra); err == nil {
					onChange(id)
				}
			}
		}
	}()
	return ln, nil
}

// Close stops listening.
func (ln *Listener) Close(context.Context) error {
	var err error
	ln.once.Do(func() {
		close(ln.done)
		err = ln.l.Close()
	})
	return err
}
