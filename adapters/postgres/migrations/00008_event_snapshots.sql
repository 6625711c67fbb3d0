-- +goose Up
-- Each event carries the job as that change left it (what the status
-- endpoint answers: eta, links, error; the status and owner were already
-- there), written by the trigger in the change's own transaction. Replay
-- reads the snapshot, not the job as it is now, so a purged job's retained
-- events and the events of a job whose owner changed since are replayed
-- too, to the client that owned the job at that change. Events written
-- before this migration have no snapshot (eta is NULL; a job's eta never
-- is) and are still read with the job's row.
-- Nullable columns without a default: adding them rewrites nothing.
ALTER TABLE async_job_events
    ADD COLUMN eta           timestamptz,
    ADD COLUMN links         jsonb,
    ADD COLUMN error_code    integer,
    ADD COLUMN error_message text;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION async_job_events_record() RETURNS trigger LANGUAGE plpgsql AS $$
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
    INSERT INTO async_job_events (position, job_id, client_id, status, occurred_at, eta, links, error_code, error_message)
        VALUES (pos, NEW.id, NEW.client_id, NEW.status, clock_timestamp(), NEW.eta, NEW.links, NEW.error_code, NEW.error_message);
    PERFORM pg_notify('async_job_events', pos::text);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION async_job_events_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pos bigint;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(7305847);
    pos := nextval('async_job_events_position_seq');
    INSERT INTO async_job_events (position, job_id, client_id, status, occurred_at)
        VALUES (pos, NEW.id, NEW.client_id, NEW.status, clock_timestamp());
    PERFORM pg_notify('async_job_events', pos::text);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
ALTER TABLE async_job_events
    DROP COLUMN eta,
    DROP COLUMN links,
    DROP COLUMN error_code,
    DROP COLUMN error_message;
