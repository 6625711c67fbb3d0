package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/lib/pq"
	"go.uber.org/zap"
)

// LogChannel is the NOTIFY channel the change log's triggers ring, once
// per statement that logged changes: a doorbell with no payload, saying
// "the log moved"; what moved is read from the log.
const LogChannel = "async_job_log"

// ListenerApplicationName names the listener's connection in
// pg_stat_activity, so operators (and tests) can find it; a database URL
// with its own application_name gives "<that>-listener" instead.
const ListenerApplicationName = "jobstatus-listener"

// LogListener rings a callback when the change log moves, on one
// dedicated connection (outside the pool) that reconnects by itself.
type LogListener struct{ *channelListener }

// ListenLog starts listening on LogChannel in the background; it does not
// wait for the database, which may still be down (Ready says when it
// listens). onMoved is called once LISTEN first succeeds, after every
// reconnect (notifications sent meanwhile are lost) and on every
// notification, from one goroutine at a time: each time, the log may
// have moved. Every argument is required.
func ListenLog(url string, onMoved func(), logger *zap.Logger) (*LogListener, error) {
	if url == "" || onMoved == nil || logger == nil {
		return nil, errors.New("postgres listener: url, callback and logger are required")
	}
	dsn, err := NamedURL(url, "listener") // ListenerApplicationName, or "<the URL's own>-listener"
	if err != nil {
		return nil, fmt.Errorf("postgres listener: %w", err)
	}
	// The first LISTEN and the notifications are handled on two
	// goroutines: one call at a time all the same.
	var mu sync.Mutex
	ring := func() {
		mu.Lock()
		defer mu.Unlock()
		onMoved()
	}
	ln := listenOn(dsn, LogChannel, "change log listener", "listen for job changes", logger, channelHandlers{
		listening: ring,                              // listening now: read what came before
		notified:  func(*pq.Notification) { ring() }, // the doorbell, or nil after a reconnect: read either way
	})
	return &LogListener{ln}, nil
}

// channelHandlers are what a channelListener calls, each from one
// goroutine at a time.
type channelHandlers struct {
	listening func()                 // LISTEN first succeeded
	notified  func(*pq.Notification) // a notification, or nil once listening again after a reconnect
}

// channelListener listens on one channel on a dedicated connection that
// reconnects by itself, and never waits on a server that stopped
// answering to close.
type channelListener struct {
	l         *pq.Listener
	sockets   *sockets
	done      chan struct{}
	listening chan struct{} // closed once LISTEN first succeeded
	once      sync.Once
}

// listenOn starts listening on channel in the background; what names the
// listener in logs, and failed says what failed when LISTEN itself does.
func listenOn(dsn, channel, what, failed string, logger *zap.Logger, h channelHandlers) *channelListener {
	ln := &channelListener{sockets: newSockets(), done: make(chan struct{}), listening: make(chan struct{})}
	// Reconnect backoff from 100 ms up to 2 s: quick to come back, and
	// lib/pq's reconnect loop sleeps out its backoff before it notices Close,
	// so its goroutine outlives Close by at most 2 s.
	ln.l = pq.NewDialListener(dialer(ln.dial), dsn, 100*time.Millisecond, 2*time.Second,
		func(ev pq.ListenerEventType, err error) {
			switch ev {
			case pq.ListenerEventConnectionAttemptFailed:
				logger.Warn(what+" cannot connect", zap.Error(err))
			case pq.ListenerEventDisconnected:
				logger.Warn(what+" disconnected", zap.Error(err))
			case pq.ListenerEventReconnected:
				logger.Info(what + " reconnected")
			}
		})
	go func() {
		// Listen blocks until the first connection succeeds.
		if err := ln.l.Listen(channel); err != nil && !errors.Is(err, pq.ErrChannelAlreadyOpen) {
			select {
			case <-ln.done:
			default:
				logger.Error(failed, zap.Error(err))
			}
			return
		}
		close(ln.listening)
		h.listening()
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
				h.notified(n)
			}
		}
	}()
	return ln
}

// Ready returns a channel closed once the listener first listens.
func (ln *channelListener) Ready() <-chan struct{} { return ln.listening }

// Close stops listening. lib/pq's Close waits for a LISTEN in progress,
// which a server that stopped answering never answers: then the
// connection is cut, and the error says so. Every socket is cut once
// closed.
func (ln *channelListener) Close(context.Context) error {
	var err error
	ln.once.Do(func() {
		close(ln.done)
		err = closeWithin(ln.l.Close, func() { ln.sockets.cutAll(true) })
		// A reconnect may be waiting for a frozen server's startup answer
		// outside the lock Close takes: end it too.
		ln.sockets.cutAll(true)
	})
	return err
}

// dial opens one of the listener's sockets, tracked so it can be cut.
func (ln *channelListener) dial(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := dial(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return ln.sockets.track(c), nil
}
