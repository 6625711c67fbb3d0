package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net"
	neturl "net/url"
	"sync"
	"time"

	"github.com/lib/pq"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// Channel is the NOTIFY channel the schema's trigger announces changes on.
const Channel = "async_job_changed"

// ListenerApplicationName names the listener's connection in
// pg_stat_activity, so operators (and tests) can find it; a database URL
// with its own application_name gives "<that>-listener" instead.
const ListenerApplicationName = "jobstatus-listener"

// Listener turns PostgreSQL notifications into ports.JobChanges calls, on
// one dedicated connection (outside the pool) that reconnects by itself.
// Live(true) is called once the connection listens, Live(false) when it is
// lost: notifications sent meanwhile are lost too.
type Listener struct{ *channelListener }

// Listen starts listening in the background; it does not wait for the
// database, which may still be down (Ready says when it listens). Every
// argument is required.
func Listen(url string, sink ports.JobChanges, logger *zap.Logger) (*Listener, error) {
	if url == "" || sink == nil || logger == nil {
		return nil, errors.New("postgres listener: url, change sink and logger are required")
	}
	dsn, err := withApplicationName(url, ListenerApplicationName)
	if err != nil {
		return nil, err
	}
	ln := listenOn(dsn, Channel, "notification listener", "listen for job changes", logger, channelHandlers{
		listening: func() { sink.Live(true) },
		lost:      func() { sink.Live(false) },
		notified: func(n *pq.Notification) {
			if n == nil { // reconnected and listening again
				sink.Live(true)
				return
			}
			c, err := decodeChange(n.Extra)
			if errors.Is(err, errTruncated) {
				logger.Info("jobs table truncated: dropping what was derived from it")
				sink.Live(false)
				sink.Live(true)
				return
			}
			if err != nil {
				// Not ours to interpret: the change it stood for is
				// lost, so nothing cached can be vouched for.
				logger.Warn("unreadable job change notification", zap.Error(err))
				sink.Live(false)
				sink.Live(true)
				return
			}
			sink.Changed(c)
		},
	})
	return &Listener{ln}, nil
}

// channelHandlers are what a channelListener calls, each from one
// goroutine at a time.
type channelHandlers struct {
	listening func()                 // LISTEN first succeeded
	lost      func()                 // the connection was lost; may be nil
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
				if h.lost != nil {
					h.lost()
				}
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

// withApplicationName names the listener's connection: name, or the
// URL's own application_name followed by "-listener".
func withApplicationName(raw, name string) (string, error) {
	u, err := neturl.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("postgres listener: the database URL must be a postgres:// URL") // never echo it: it may hold a password
	}
	q := u.Query()
	if v := q.Get("application_name"); v != "" {
		name = v + "-listener"
	}
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// errTruncated is a notification that the whole table was emptied.
var errTruncated = errors.New("job change: table truncated")

// notification is the trigger's payload.
type notification struct {
	ID      string   `json:"id"`
	Version int64    `json:"version"`
	Op      string   `json:"op"` // I, U, D, or T for a TRUNCATE
	Row     *jsonRow `json:"row"`
}

// jsonRow is a row as row_to_json writes it.
type jsonRow struct {
	ID             string          `json:"id"`
	ClientID       string          `json:"client_id"`
	IdempotencyKey *string         `json:"idempotency_key"`
	Status         string          `json:"status"`
	ETA            time.Time       `json:"eta"`
	Links          json.RawMessage `json:"links"`
	ErrorCode      *int64          `json:"error_code"`
	ErrorMessage   *string         `json:"error_message"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	FinishedAt     *time.Time      `json:"finished_at"`
	Version        int64           `json:"version"`
}

func (r jsonRow) toRow() jobRow {
	row := jobRow{ID: r.ID, ClientID: r.ClientID, Status: r.Status, ETA: r.ETA, Links: r.Links,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Version: r.Version}
	if r.IdempotencyKey != nil {
		row.IdempotencyKey = sql.NullString{String: *r.IdempotencyKey, Valid: true}
	}
	if r.ErrorCode != nil {
		row.ErrorCode = sql.NullInt64{Int64: *r.ErrorCode, Valid: true}
	}
	if r.ErrorMessage != nil {
		row.ErrorMessage = sql.NullString{String: *r.ErrorMessage, Valid: true}
	}
	if r.FinishedAt != nil {
		row.FinishedAt = sql.NullTime{Time: *r.FinishedAt, Valid: true}
	}
	return row
}

// decodeChange reads a notification: the job's id, version and operation,
// and the new row when it fitted.
func decodeChange(payload string) (ports.JobChange, error) {
	var n notification
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		return ports.JobChange{}, errors.New("job change: not the trigger's JSON")
	}
	if n.Op == "T" {
		return ports.JobChange{}, errTruncated
	}
	id, err := domain.ParseID(n.ID)
	if err != nil || n.Version <= 0 {
		return ports.JobChange{}, errors.New("job change: no id or version")
	}
	c := ports.JobChange{ID: id, Version: n.Version, Deleted: n.Op == "D"}
	if n.Row != nil && !c.Deleted {
		j, err := n.Row.toRow().toDomain()
		if err != nil {
			return ports.JobChange{}, err
		}
		c.Job = &j
	}
	return c, nil
}
