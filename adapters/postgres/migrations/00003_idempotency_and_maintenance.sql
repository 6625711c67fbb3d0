-- +goose NO TRANSACTION
-- Indexes are built CONCURRENTLY, so a large table keeps taking writes.

-- +goose Up
ALTER TABLE async_jobs ADD COLUMN IF NOT EXISTS idempotency_key text
    CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 255);

-- One PENDING job per client and idempotency key: a repeated create finds it.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS async_jobs_pending_idempotency_idx
    ON async_jobs (client_id, idempotency_key) WHERE status = 'PENDING' AND idempotency_key IS NOT NULL;

-- The stale-job sweeper looks for old PENDING jobs only: a small index.
CREATE INDEX CONCURRENTLY IF NOT EXISTS async_jobs_pending_created_idx
    ON async_jobs (created_at) WHERE status = 'PENDING';

-- Reports select jobs by creation date.
CREATE INDEX CONCURRENTLY IF NOT EXISTS async_jobs_created_at_idx ON async_jobs (created_at);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS async_jobs_created_at_idx;
DROP INDEX CONCURRENTLY IF EXISTS async_jobs_pending_created_idx;
DROP INDEX CONCURRENTLY IF EXISTS async_jobs_pending_idempotency_idx;
ALTER TABLE async_jobs DROP COLUMN IF EXISTS idempotency_key;
