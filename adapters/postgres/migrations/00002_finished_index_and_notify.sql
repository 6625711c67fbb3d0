-- +goose Up
-- Recent completion durations feed the eta estimator (newest DONE first);
-- retention will scan by age of finished jobs. Pending jobs are not indexed.
CREATE INDEX async_jobs_finished_at_idx ON async_jobs (finished_at) WHERE finished_at IS NOT NULL;

-- Every status change is announced, whoever made it (the service, the jobs
-- command, another instance), so waiting requests everywhere wake up.
-- +goose StatementBegin
CREATE FUNCTION async_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('async_job_changed', NEW.id::text);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER async_jobs_changed
    AFTER UPDATE OF status ON async_jobs
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION async_jobs_notify();

-- +goose Down
DROP TRIGGER async_jobs_changed ON async_jobs;
DROP FUNCTION async_jobs_notify();
DROP INDEX async_jobs_finished_at_idx;
