-- +goose NO TRANSACTION
-- Built CONCURRENTLY, so a large log keeps taking writes.

-- +goose Up
-- A stream resuming with Last-Event-ID reads its own client's events; since
-- 00009 the log also holds the changes the stream does not show (deletes,
-- eta, links, owner and id changes), so its index keeps the events only.
CREATE INDEX CONCURRENTLY IF NOT EXISTS async_job_events_client_event_idx
    ON async_job_events (client_id, position) WHERE event IS NOT FALSE;
DROP INDEX CONCURRENTLY IF EXISTS async_job_events_client_position_idx;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS async_job_events_client_position_idx
    ON async_job_events (client_id, position);
DROP INDEX CONCURRENTLY IF EXISTS async_job_events_client_event_idx;
