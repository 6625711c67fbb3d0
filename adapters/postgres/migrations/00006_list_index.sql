-- +goose NO TRANSACTION
-- Built CONCURRENTLY, so a large table keeps taking writes.

-- +goose Up
-- Listing a client's jobs newest first, with a (created_at, id) cursor: a
-- page is an index range scan, whatever the table's size.
CREATE INDEX CONCURRENTLY IF NOT EXISTS async_jobs_client_created_idx
    ON async_jobs (client_id, created_at DESC, id DESC);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS async_jobs_client_created_idx;
