package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// A PostgreSQL that accepts TCP but never answers (a frozen VM, a paused
// container, a stopped process behind a live kernel) would hold lib/pq for
// ever: it reads its socket with no deadline, and the cancel request it
// sends when a statement's context ends waits for that same server. The
// types here give every connection a way out: when lib/pq gives up on a
// statement, or a connect or BEGIN outlives its context, or shutdown stops
// waiting, the socket's deadline is moved into the past, so the blocked
// read fails at once and the connection is discarded.

// cancelWait bounds a cancel request's wait for the server's answer, when
// the URL sets no connect_timeout (which then bounds it): 5 s, a
// time.Duration (tests lengthen it).
var cancelWait = func() *atomic.Int64 {
	var d atomic.Int64
	d.Store(int64(5 * time.Second))
	return &d
}()

// expired is a deadline in the past: every read and write fails at once.
var expired = time.Unix(1, 0)

// sockets tracks the open sockets of a pool or a listener, so they can all
// be cut at once.
type sockets struct {
	mu     sync.Mutex
	open   map[*socket]struct{}
	closed bool // cut for good: refuse new ones
}

func newSockets() *sockets { return &sockets{open: map[*socket]struct{}{}} }

// socket is a tracked connection to the server.
type socket struct {
	net.Conn
	owner *sockets
}

// Close forgets the socket and closes it.
func (s *socket) Close() error {
	s.owner.mu.Lock()
	delete(s.owner.open, s)
	s.owner.mu.Unlock()
	return s.Conn.Close()
}

// cut fails the socket's blocked and future reads and writes.
func (s *socket) cut() { _ = s.Conn.SetDeadline(expired) }

// track adds c, or cuts it at once when every socket was cut for good.
func (ss *sockets) track(c net.Conn) *socket {
	s := &socket{Conn: c, owner: ss}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		s.cut()
		return s
	}
	ss.open[s] = struct{}{}
	return s
}

// cutAll cuts every open socket; with forGood, new ones are refused too.
func (ss *sockets) cutAll(forGood bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.closed = ss.closed || forGood
	for s := range ss.open {
		s.cut()
	}
}

// dial opens a socket the way lib/pq's default dialer does.
func dial(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// dialer is a dial function as lib/pq's Dialer and DialerContext.
type dialer func(ctx context.Context, network, address string) (net.Conn, error)

// Dial implements pq.Dialer.
func (d dialer) Dial(network, address string) (net.Conn, error) {
	return d(context.Background(), network, address)
}

// DialTimeout implements pq.Dialer.
func (d dialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d(ctx, network, address)
}

// DialContext implements pq.DialerContext.
func (d dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return d(ctx, network, address)
}

// connector opens lib/pq connections whose sockets it tracks.
type connector struct {
	cfg     pq.Config
	sockets *sockets
	db      *sql.DB // the pool on it, set once by open
}

// Close implements io.Closer: database/sql calls it last when the pool
// closes. Connections still in use are cut: the pool is gone.
func (c *connector) Close() error {
	pools.Delete(c.db)
	c.sockets.cutAll(true)
	return nil
}

func newConnector(url string) (*connector, error) {
	cfg, err := pq.NewConfig(url)
	if err != nil {
		return nil, err
	}
	return &connector{cfg: cfg, sockets: newSockets()}, nil
}

// Driver implements driver.Connector.
func (c *connector) Driver() driver.Driver { return pq.Driver{} }

// Connect implements driver.Connector. lib/pq reads the server's startup
// answer with no deadline unless connect_timeout is set, so a connect that
// outlives ctx is cut.
func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	pc, err := pq.NewConnectorConfig(c.cfg)
	if err != nil {
		return nil, err
	}
	d := &connDialer{sockets: c.sockets}
	pc.Dialer(dialer(d.dialContext))
	stop := context.AfterFunc(ctx, d.cut)
	dc, err := pc.Connect(ctx)
	if !stop() {
		if err == nil {
			_ = dc.Close()
		}
		return nil, fmt.Errorf("connect: %w", context.Cause(ctx))
	}
	if err != nil {
		return nil, err
	}
	inner, ok := dc.(pqConn)
	if !ok {
		_ = dc.Close()
		return nil, errors.New("postgres: unexpected lib/pq connection type")
	}
	d.connected()
	return &conn{pqConn: inner, d: d}, nil
}

// connDialer dials the sockets of one connection. Every dial while it
// connects is the connection's (lib/pq may try several hosts, or retry
// without TLS); a dial after that is a cancel request, which lib/pq sends
// only once a statement's context ended and it has marked the connection
// bad: the connection's socket is cut then, so the statement stops waiting
// for a server that may never answer.
type connDialer struct {
	sockets *sockets

	mu   sync.Mutex
	last *socket // the connection's socket once connected
	up   bool
	dead bool // cut: the connection is not to be used again
}

// dialContext dials one of the connection's sockets.
func (d *connDialer) dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := dial(ctx, network, address)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.up { // a cancel request
		d.dead = true
		d.last.cut()
		_ = c.SetDeadline(time.Now().Add(time.Duration(cancelWait.Load())))
		return &cancelConn{Conn: c}, nil
	}
	s := d.sockets.track(c)
	if d.dead {
		s.cut()
	}
	d.last = s
	return s, nil
}

// cancelConn is the socket of a cancel request. lib/pq writes the request,
// then reads until the server closes the socket, and a prepared statement
// (the poll's hot path) returns only after that read: a frozen server held
// it the cancel wait, or connect_timeout, past its deadline. The server
// answers a cancel request with nothing but the close, and reads it from
// its socket whenever it runs, so once the request is written whole there
// is nothing left to wait for and reads end at once. Over TLS the request
// is encrypted and cannot be told apart: reads then wait as before.
type cancelConn struct {
	net.Conn
	sent atomic.Bool
}

// Write implements net.Conn, noting a whole cancel request written.
func (c *cancelConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err == nil && n == len(p) && isCancelRequest(p) {
		c.sent.Store(true)
	}
	return n, err
}

// Read implements net.Conn: the end of the stream once the request is sent.
func (c *cancelConn) Read(p []byte) (int, error) {
	if c.sent.Load() {
		return 0, io.EOF
	}
	return c.Conn.Read(p)
}

// cancelRequestCode is the code of PostgreSQL's CancelRequest message
// (protocol "Message Formats"): 1234 in the high 16 bits, 5678 in the low.
const cancelRequestCode = 1234<<16 | 5678

// isCancelRequest reports whether p is one whole CancelRequest message: its
// length (p's own), then its code.
func isCancelRequest(p []byte) bool {
	return len(p) >= 8 && binary.BigEndian.Uint32(p) == uint32(len(p)) &&
		binary.BigEndian.Uint32(p[4:]) == cancelRequestCode
}

func (d *connDialer) connected() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.up = true
}

// cut cuts the connection's socket (or the one it is opening).
func (d *connDialer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dead = true
	if d.last != nil {
		d.last.cut()
	}
}

func (d *connDialer) isDead() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dead
}

// pqConn is what lib/pq's connection implements and database/sql uses.
type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.QueryerContext
	driver.ExecerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

// conn is a lib/pq connection whose BEGIN is bounded by its context (lib/pq
// watches a transaction's context only once BEGIN answered) and which is
// discarded once its socket was cut.
type conn struct {
	pqConn
	d *connDialer
	// readOnly: the server refused a write because the session cannot
	// write: a statement refused with 25006 (a standby reached during a
	// failover, or a database with default_transaction_read_only set when
	// the connection began), or a BEGIN READ WRITE a server in recovery
	// refused (readWriteRefused). Either holds for the session's life, so
	// such a connection would refuse every write until conn_max_lifetime
	// retired it, long after the database could write again: it is
	// discarded instead.
	readOnly atomic.Bool
}

// QueryContext implements driver.QueryerContext.
func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := c.pqConn.QueryContext(ctx, query, args)
	c.note(err)
	return rows, err
}

// ExecContext implements driver.ExecerContext.
func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	res, err := c.pqConn.ExecContext(ctx, query, args)
	c.note(err)
	return res, err
}

// note marks the connection read-only when err says its session cannot
// write (25006); database/sql then closes it instead of pooling it
// (IsValid).
func (c *conn) note(err error) {
	if sqlState(err) == "25006" {
		c.readOnly.Store(true)
	}
}

// sqlState returns err's SQLSTATE, or "" when the server did not answer
// with an error.
func sqlState(err error) string {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return string(pqErr.Code)
	}
	return ""
}

// readWriteRefused reports whether err is a server in recovery (a hot
// standby) refusing a read-write BEGIN. lib/pq begins every transaction
// not asked to be read-only with BEGIN READ WRITE, which such a server
// refuses before any write with 0A000 ("cannot set transaction
// read-write mode during recovery"), not 25006. From BEGIN, 0A000 means
// recovery and nothing else: PostgreSQL checks a transaction's modes
// with it only while recovery is in progress (read-write, and
// serializable in a hot standby); its other use the store meets, "cached
// plan must not change result type" (stalePlan), is a prepared
// statement's, never BEGIN's. So the code and the statement decide, not
// the message, which lc_messages may translate.
func readWriteRefused(err error, opts driver.TxOptions) bool {
	return !opts.ReadOnly && sqlState(err) == "0A000"
}

// BeginTx implements driver.ConnBeginTx.
func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	stop := context.AfterFunc(ctx, c.d.cut)
	tx, err := c.pqConn.BeginTx(ctx, opts)
	if !stop() {
		if err == nil {
			_ = tx.Rollback()
		}
		return nil, fmt.Errorf("begin: %w", context.Cause(ctx))
	}
	if readWriteRefused(err, opts) {
		c.readOnly.Store(true)
	}
	return tx, err
}

// ResetSession implements driver.SessionResetter.
func (c *conn) ResetSession(ctx context.Context) error {
	if c.d.isDead() || c.readOnly.Load() {
		return driver.ErrBadConn
	}
	return c.pqConn.ResetSession(ctx)
}

// IsValid implements driver.Validator.
func (c *conn) IsValid() bool { return !c.d.isDead() && !c.readOnly.Load() && c.pqConn.IsValid() }

// pools maps each pool Open returned to its connector, so Close can cut
// its sockets.
var pools sync.Map // *sql.DB → *connector

// closeWait bounds how long Close waits for a server before it cuts the
// connections, and then again for what it waited on to return.
const closeWait = 2 * time.Second

// Close closes db without waiting on a server that does not answer: if
// closing (the prepared statements and connections, each of which may talk
// to the server) has not returned within a short wait, every connection of
// db is cut and Close waits as long again. The error says when something
// still did not return.
func Close(db *sqlx.DB) error {
	return closeWithin(db.Close, func() { cut(db.DB, true) })
}

// closeWithin runs close; when it has not returned within closeWait, it
// calls cut (which cuts the connections close waits on) and waits as long
// again.
func closeWithin(close func() error, cut func()) error {
	done := make(chan error, 1)
	go func() { done <- close() }()
	timer := time.NewTimer(closeWait)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
	}
	cut()
	timer.Reset(closeWait)
	select {
	case err := <-done:
		return errors.Join(errors.New("postgres: the server did not answer: connections cut"), err)
	case <-timer.C:
		return errors.New("postgres: the server did not answer and closing did not end: abandoned")
	}
}

// cut cuts every socket of db's connections; forGood refuses new ones.
func cut(db *sql.DB, forGood bool) {
	if c, ok := pools.Load(db); ok {
		c.(*connector).sockets.cutAll(forGood)
	}
}
