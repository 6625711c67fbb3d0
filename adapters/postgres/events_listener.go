package postgres

import (
	"errors"

	"github.com/lib/pq"
	"go.uber.org/zap"
)

// EventsChannel is the NOTIFY channel the event log's trigger announces
// new positions on.
const EventsChannel = "async_job_events"

// EventsListener calls onEvent for every notification of a new event, and
// after every reconnect (notifications sent meanwhile are lost), on one
// dedicated connection outside the pool.
type EventsListener struct{ *channelListener }

// ListenEvents starts listening in the background; it does not wait for
// the database. Every argument is required.
func ListenEvents(url string, onEvent func(), logger *zap.Logger) (*EventsListener, error) {
	if url == "" || onEvent == nil || logger == nil {
		return nil, errors.New("postgres events listener: url, callback and logger are required")
	}
	ln := listenOn(url, EventsChannel, "event listener", "listen for job events", logger, channelHandlers{
		listening: onEvent,                              // listening now: read what came before
		notified:  func(*pq.Notification) { onEvent() }, // a position, or nil after a reconnect: read either way
	})
	return &EventsListener{ln}, nil
}
