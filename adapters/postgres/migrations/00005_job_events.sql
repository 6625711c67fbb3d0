-- +goose Up
-- The change feed: one row per status change of a job (its creation
-- included), whoever made it. Positions come from one sequence and are
-- taken under a transaction-level advisory lock, so they are committed in
-- order: a reader of "position > last ORDER BY position" never sees a
-- later position before an earlier one commits, and can never skip one.
-- The lock serialises job writes for the few microseconds between the
-- trigger and the commit; job writes are rare next to reads (README,
-- "Change stream").
CREATE SEQUENCE async_job_events_position_seq;

CREATE TABLE async_job_events (
    position    bigint      PRIMARY KEY,
    job_id      uuid        NOT NULL,
    client_id   text        NOT NULL,
    status      text        NOT NULL,
    occurred_at timestamptz NOT NULL
);

-- A stream resuming with Last-Event-ID reads its own client's changes.
CREATE INDEX async_job_events_client_position_idx ON async_job_events (client_id, position);

-- The highest position retention has deleted: a Last-Event-ID below it may
-- have missed changes, and the stream answers "reset".
CREATE TABLE async_job_events_horizon (
    id       boolean PRIMARY KEY DEFAULT true CHECK (id),
    position bigint  NOT NULL
);
INSERT INTO async_job_events_horizon (position) VALUES (0);

-- +goose StatementBegin
CREATE FUNCTION async_job_events_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pos bigint;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status THEN
        RETURN NULL;
    END IF;
    -- 7305847 is this feed's advisory lock key ("job events"); held until
    -- commit, so positions commit in the order they are taken.
    PERFORM pg_advisory_xact_lock(7305847);
    pos := nextval('async_job_events_position_seq');
    INSERT INTO async_job_events (position, job_id, client_id, status, occurred_at)
        VALUES (pos, NEW.id, NEW.client_id, NEW.status, clock_timestamp());
    PERFORM pg_notify('async_job_events', pos::text);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER async_job_events_record
    AFTER INSERT OR UPDATE OF status ON async_jobs
    FOR EACH ROW
    EXECUTE FUNCTION async_job_events_record();

-- +goose Down
DROP TRIGGER async_job_events_record ON async_jobs;
DROP FUNCTION async_job_events_record();
DROP TABLE async_job_events_horizon;
DROP TABLE async_job_events;
DROP SEQUENCE async_job_events_position_seq;
