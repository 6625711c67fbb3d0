package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	nethttp "net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
)

// EventsPath is the route of the change stream (Server-Sent Events).
const EventsPath = "/patients/composition/jobs/events"

// streamWriteTimeout bounds each write to a stream: a client that stops
// reading is dropped, however long the stream has been open.
const streamWriteTimeout = 10 * time.Second

// resetData is the data of the "reset" event when changes after the
// client's Last-Event-ID were deleted; resetUnknownData when no event ever
// had that id.
const (
	resetData        = `{"reason":"changes after Last-Event-ID are no longer retained: list your jobs again"}`
	resetUnknownData = `{"reason":"Last-Event-ID is not an id this service sent: list your jobs again"}`
)

// streamEvents answers with the caller's job changes as Server-Sent
// Events. Everything that can be refused (credentials, scope, a bad
// Last-Event-ID, too many streams) is answered with the envelope before
// the stream starts.
func (h *Handler) streamEvents(w nethttp.ResponseWriter, r *nethttp.Request) {
	p, creds, ok := h.principal(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	ids := r.Header.Values("Last-Event-ID")
	if len(ids) > 1 {
		h.fail(w, r, &domain.ValidationError{Field: "Last-Event-ID", Reason: "must be sent once"}, "")
		return
	}
	var last string
	if len(ids) == 1 {
		last = ids[0]
	}
	stream, err := h.app.WatchEvents.Handle(ctx, app.WatchEvents{Principal: p, LastEventID: last})
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	defer stream.Close()
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // proxies must not buffer the stream
	w.WriteHeader(nethttp.StatusOK)
	if r.Method == nethttp.MethodHead {
		return
	}
	sw := &sseWriter{w: w, rc: nethttp.NewResponseController(w)}
	if sw.retry(h.cfg.StreamRetry) != nil {
		return
	}
	expires := p.ExpiresAt
	if !expires.IsZero() {
		expires = expires.Add(h.cfg.AuthLeeway) // as long as the verifier accepts it
	}
	h.pump(ctx, sw, stream, creds, expires)
}

// pump writes changes, and a heartbeat whenever none came for a while,
// until the client leaves, the token expires, its credentials no longer
// pass (checked before every change and heartbeat) or the feed ends the
// stream.
func (h *Handler) pump(ctx context.Context, sw *sseWriter, stream *app.EventStream, creds app.Credentials, expires time.Time) {
	for {
		deadline := time.Now().Add(h.cfg.StreamHeartbeat)
		expiring := !expires.IsZero() && expires.Before(deadline)
		if expiring {
			deadline = expires
		}
		next, cancel := context.WithDeadline(ctx, deadline)
		ch, err := stream.Next(next)
		cancel()
		switch {
		case ctx.Err() != nil:
			return // the client left
		case errors.Is(err, context.DeadlineExceeded) && expiring && !time.Now().Before(expires):
			// The token is no longer valid: the client reconnects with a new one.
			_ = sw.comment("token expired")
			return
		case err == nil:
			if !h.stillValid(ctx, sw, creds, expires) {
				return
			}
			err = sw.change(ch)
		case errors.Is(err, context.DeadlineExceeded):
			if !h.stillValid(ctx, sw, creds, expires) {
				return
			}
			err = sw.comment("ping")
		default:
			if !errors.Is(err, app.ErrStreamEnded) {
				h.logger.Warn("event stream ended", zap.String("request_id", RequestIDFrom(ctx)), zap.Error(err))
			}
			// Shutting down, lagging, or the store failed: reconnect soon.
			_ = sw.retry(h.cfg.StreamRetry)
			return
		}
		if err != nil {
			return // the client stopped reading
		}
	}
}

// stillValid checks the stream's credentials again, so that revoking an
// api-key or dropping the token's key from the key set ends open streams
// too. When they no longer pass it ends the stream: with ": credentials
// revoked" when they were refused, with "retry:" when they could not be
// checked (the client reconnects and is checked anew).
func (h *Handler) stillValid(ctx context.Context, sw *sseWriter, creds app.Credentials, expires time.Time) bool {
	_, err := h.app.Authenticate.Recheck(ctx, creds)
	if err == nil {
		return true
	}
	var (
		auth      *domain.AuthError
		forbidden *domain.ForbiddenError
	)
	if errors.As(err, &auth) || errors.As(err, &forbidden) {
		// A check that runs as the token reaches its end is refused for
		// that reason: say so, as the expiry check itself would.
		if !expires.IsZero() && !time.Now().Add(time.Second).Before(expires) {
			_ = sw.comment("token expired")
		} else {
			_ = sw.comment("credentials revoked")
		}
		return false
	}
	h.logger.Warn("event stream ended: credentials could not be checked", zap.String("request_id", RequestIDFrom(ctx)), zap.Error(err))
	_ = sw.retry(h.cfg.StreamRetry)
	return false
}

// sseWriter writes Server-Sent Events, flushing each one.
type sseWriter struct {
	w  nethttp.ResponseWriter
	rc *nethttp.ResponseController
}

func (s *sseWriter) write(frame string) error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil && !errors.Is(err, nethttp.ErrNotSupported) {
		return err
	}
	if _, err := fmt.Fprint(s.w, frame); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *sseWriter) comment(text string) error { return s.write(": " + text + "\n\n") }

func (s *sseWriter) retry(d time.Duration) error {
	return s.write("retry: " + strconv.FormatInt(d.Milliseconds(), 10) + "\n\n")
}

func (s *sseWriter) change(ch app.Change) error {
	id := strconv.FormatInt(ch.Event.Position, 10)
	if ch.Reset {
		data := resetData
		if ch.Unknown {
			data = resetUnknownData
		}
		return s.write("id: " + id + "\nevent: reset\ndata: " + data + "\n\n")
	}
	data, err := json.Marshal(eventJobData(ch))
	if err != nil {
		return err
	}
	return s.write("id: " + id + "\nevent: " + string(ch.Event.Status) + "\ndata: " + string(data) + "\n\n")
}

// eventJobData is the job as the status endpoint shows it, at the status
// the change gave it: a creation seen after the job finished is shown
// PENDING, without the outcome.
func eventJobData(ch app.Change) JobData {
	job := ch.Event.Job
	if ch.Event.Status != job.Status {
		job.Status = ch.Event.Status
		job.Links, job.Failure = nil, nil
	}
	return toJobData(job)
}
