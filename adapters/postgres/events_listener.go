package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/lib/pq"
	"go.uber.org/zap"
)

// EventsChannel is the NOTIFY channel the event log's trigger announces
// new positions on.
const EventsChannel = "async_job_events"

// EventsListener calls onEvent for every notification of a new event, and
// after every reconnect (notifications sent meanwhile are lost), on one
// dedicated connection outside the pool.
type EventsListener struct {
	l    *pq.Listener
	done chan struct{}
	once sync.Once
}

// ListenEvents starts listening in the background; it does not wait for
// the database. Every argument is required.
func ListenEvents(url string, onEvent func(), logger *zap.Logger) (*EventsListener, error) {
	if url == "" || onEvent == nil || logger == nil {
		return nil, errors.New("postgres events listener: url, callback and logger are required")
	}
	ln := &EventsListener{done: make(chan struct{})}
	ln.l = pq.NewListener(url, 100*time.Millisecond, 2*time.Second, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventConnectionAttemptFailed:
			logger.Warn("event listener cannot connect", zap.Error(err))
		case pq.ListenerEventDisconnected:
			logger.Warn("event listener disconnected", zap.Error(err))
		case pq.ListenerEventReconnected:
			logger.Info("event listener reconnected")
		}
	})
	go func() {
		if err := ln.l.Listen(EventsChannel); err != nil && !errors.Is(err, pq.ErrChannelAlreadyOpen) {
			select {
			case <-ln.done:
			default:
				logger.Error("listen for job events", zap.Error(err))
			}
			return
		}
		onEvent() // listening now: read what came before
	}()
	go func() {
		for {
			select {
			case <-ln.done:
				return
			case _, ok := <-ln.l.Notify:
				if !ok {
					return
				}
				onEvent() // a position, or nil after a reconnect: read either way
			}
		}
	}()
	return ln, nil
}

// Close stops listening.
func (ln *EventsListener) Close(context.Context) error {
	var err error
	ln.once.Do(func() {
		close(ln.done)
		err = ln.l.Close()
	})
	return err
}
