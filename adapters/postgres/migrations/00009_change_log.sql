-- +goose Up
-- One change log. Every change of async_jobs, whoever makes it (the
-- service, the jobs commands, the sweeper, the purge, hand-written SQL),
-- is a row of async_job_events with a position from one sequence, taken
-- under the transaction-level advisory lock 7305847 and so committed in
-- the order it was taken: a reader of "position > last ORDER BY position"
-- never sees a later position before an earlier one commits, and never
-- skips one. The position is the job's version: there is no second
-- sequence, and no per-row notification. A put carries the job as the
-- change left it; a delete the id, owner and status it had; a TRUNCATE
-- nothing. The stream's events (a job created, or its status changed) are
-- the entries marked event.
--
-- async_job_events_head holds the position of the newest committed change,
-- moved by the writer that took it, in its own transaction; readers read
-- it instead of max(position), which walks every index entry of a bulk
-- insert still in progress. One notification per statement on
-- async_job_log says the log moved (a doorbell, no payload).
--
-- Catalog changes only: the new columns are nullable without a default
-- (no rewrite), and dropping NOT NULL scans nothing. The whole switch runs
-- in one transaction holding both tables' locks, so no write is logged by
-- both the old triggers and the new, or by neither; it waits for writers
-- in progress and then lasts milliseconds. Waiting for them queues every
-- read behind the migration, so it waits 10 s at most, then fails (and
-- changes nothing): run it again when no long transaction holds the table.

SET LOCAL lock_timeout = '10s';
LOCK TABLE async_jobs, async_job_events IN ACCESS EXCLUSIVE MODE;

-- op: 'P' put, 'D' delete, 'T' truncate; NULL on rows written before this
-- migration, which were all puts. event: NULL on those rows, all events.
ALTER TABLE async_job_events
    ADD COLUMN op              text,
    ADD COLUMN event           boolean,
    ADD COLUMN idempotency_key text,
    ADD COLUMN created_at      timestamptz,
    ADD COLUMN updated_at      timestamptz,
    ADD COLUMN finished_at     timestamptz,
    ALTER COLUMN job_id DROP NOT NULL,
    ALTER COLUMN client_id DROP NOT NULL,
    ALTER COLUMN status DROP NOT NULL;

DROP TRIGGER async_jobs_versioned ON async_jobs;
DROP FUNCTION async_jobs_version();
DROP TRIGGER async_jobs_changed ON async_jobs;
DROP FUNCTION async_jobs_notify();
DROP TRIGGER async_jobs_truncated ON async_jobs;
DROP FUNCTION async_jobs_notify_truncate();
DROP TRIGGER async_job_events_record ON async_jobs;
DROP FUNCTION async_job_events_record();

CREATE TABLE async_job_events_head (
    id       boolean PRIMARY KEY DEFAULT true CHECK (id),
    position bigint  NOT NULL
);

-- New positions exceed every version and position given so far, and the
-- head starts at the greatest of them.
-- +goose StatementBegin
DO $$
DECLARE
    top bigint;
BEGIN
    SELECT greatest(
        (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM async_job_events_position_seq),
        (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM async_jobs_version_seq),
        (SELECT max(position) FROM async_job_events),
        (SELECT max(version) FROM async_jobs),
        0) INTO top;
    IF top > 0 THEN
        PERFORM setval('async_job_events_position_seq', top);
    END IF;
    INSERT INTO async_job_events_head (position) VALUES (top);
END;
$$;
-- +goose StatementEnd

-- Rows loaded with triggers disabled (session_replication_role = replica)
-- still get a version from the one sequence; they are not logged.
ALTER TABLE async_jobs ALTER COLUMN version SET DEFAULT nextval('async_job_events_position_seq');
DROP SEQUENCE async_jobs_version_seq;

-- (1) Every insert and update takes the next position, under the lock
-- held until commit, as the row's version.
-- +goose StatementBegin
CREATE FUNCTION async_jobs_log_position() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- 7305847 is the change log's advisory lock key.
    PERFORM pg_advisory_xact_lock(7305847);
    NEW.version := nextval('async_job_events_position_seq');
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER async_jobs_log_position
    BEFORE INSERT OR UPDATE ON async_jobs
    FOR EACH ROW EXECUTE FUNCTION async_jobs_log_position();

-- (2) Every row changed is logged: a put at its version with the row as
-- it left it; a delete at a position of its own (an UPDATE that changes
-- the id also deletes the old id, after the put of the new one). The
-- transaction is marked so that the statement moves the head once.
-- +goose StatementBegin
CREATE FUNCTION async_jobs_log_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_advisory_xact_lock(7305847);
        INSERT INTO async_job_events (position, op, event, job_id, client_id, status, occurred_at)
            VALUES (nextval('async_job_events_position_seq'), 'D', false, OLD.id, OLD.client_id, OLD.status, clock_timestamp());
    ELSE
        INSERT INTO async_job_events (position, op, event, job_id, client_id, status, occurred_at,
                idempotency_key, eta, links, error_code, error_message, created_at, updated_at, finished_at)
            VALUES (NEW.version, 'P', TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status,
                NEW.id, NEW.client_id, NEW.status, clock_timestamp(),
                NEW.idempotency_key, NEW.eta, NEW.links, NEW.error_code, NEW.error_message,
                NEW.created_at, NEW.updated_at, NEW.finished_at);
        IF TG_OP = 'UPDATE' AND OLD.id IS DISTINCT FROM NEW.id THEN
            INSERT INTO async_job_events (position, op, event, job_id, client_id, status, occurred_at)
                VALUES (nextval('async_job_events_position_seq'), 'D', false, OLD.id, OLD.client_id, OLD.status, clock_timestamp());
        END IF;
    END IF;
    PERFORM set_config('jobstatus.log_moved', 'on', true);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER async_jobs_log_row
    AFTER INSERT OR UPDATE OR DELETE ON async_jobs
    FOR EACH ROW EXECUTE FUNCTION async_jobs_log_row();

-- (3) A statement that logged anything moves the head to the last
-- position taken (only the lock's holder takes positions, and this
-- transaction holds it) and rings the doorbell once.
-- +goose StatementBegin
CREATE FUNCTION async_jobs_log_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('jobstatus.log_moved', true) = 'on' THEN
        UPDATE async_job_events_head SET position = (SELECT last_value FROM async_job_events_position_seq);
        PERFORM pg_notify('async_job_log', '');
        PERFORM set_config('jobstatus.log_moved', '', true);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER async_jobs_log_statement
    AFTER INSERT OR UPDATE OR DELETE ON async_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION async_jobs_log_statement();

-- (4) TRUNCATE fires no row trigger: it is one entry of its own.
-- +goose StatementBegin
CREATE FUNCTION async_jobs_log_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pos bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7305847);
    pos := nextval('async_job_events_position_seq');
    INSERT INTO async_job_events (position, op, event, occurred_at) VALUES (pos, 'T', false, clock_timestamp());
    UPDATE async_job_events_head SET position = pos;
    PERFORM pg_notify('async_job_log', '');
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER async_jobs_log_truncate
    AFTER TRUNCATE ON async_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION async_jobs_log_truncate();

-- +goose Down
-- Back to 00008: a version sequence of its own (continuing above every
-- position, so versions keep growing), row notifications, and a log of
-- status changes only.
LOCK TABLE async_jobs, async_job_events IN ACCESS EXCLUSIVE MODE;

DROP TRIGGER async_jobs_log_truncate ON async_jobs;
DROP FUNCTION async_jobs_log_truncate();
DROP TRIGGER async_jobs_log_statement ON async_jobs;
DROP FUNCTION async_jobs_log_statement();
DROP TRIGGER async_jobs_log_row ON async_jobs;
DROP FUNCTION async_jobs_log_row();
DROP TRIGGER async_jobs_log_position ON async_jobs;
DROP FUNCTION async_jobs_log_position();

CREATE SEQUENCE async_jobs_version_seq AS bigint;
-- +goose StatementBegin
DO $$
DECLARE
    top bigint;
BEGIN
    SELECT greatest(
        (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM async_job_events_position_seq),
        (SELECT max(version) FROM async_jobs),
        0) INTO top;
    IF top > 0 THEN
        PERFORM setval('async_jobs_version_seq', top);
    END IF;
END;
$$;
-- +goose StatementEnd
ALTER TABLE async_jobs ALTER COLUMN version SET DEFAULT nextval('async_jobs_version_seq');

DROP TABLE async_job_events_head;

-- Only the stream's events stay.
DELETE FROM async_job_events WHERE op IN ('D', 'T') OR event IS FALSE;
ALTER TABLE async_job_events
    DROP COLUMN op,
    DROP COLUMN event,
    DROP COLUMN idempotency_key,
    DROP COLUMN created_at,
    DROP COLUMN updated_at,
    DROP COLUMN finished_at,
    ALTER COLUMN job_id SET NOT NULL,
    ALTER COLUMN client_id SET NOT NULL,
    ALTER COLUMN status SET NOT NULL;

-- 00004's version trigger.
-- +goose StatementBegin
CREATE FUNCTION async_jobs_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := nextval('async_jobs_version_seq');
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER async_jobs_versioned
    BEFORE INSERT OR UPDATE ON async_jobs
    FOR EACH ROW EXECUTE FUNCTION async_jobs_version();

-- 00007's row notifications.
-- +goose StatementBegin
CREATE FUNCTION async_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    payload text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('async_job_changed', json_build_object(
            'id', OLD.id, 'version', nextval('async_jobs_version_seq'), 'op', 'D')::text);
        RETURN NULL;
    END IF;
    payload := json_build_object('id', NEW.id, 'version', NEW.version, 'op', left(TG_OP, 1), 'row', row_to_json(NEW))::text;
    IF octet_length(payload) >= 7900 THEN
        payload := json_build_object('id', NEW.id, 'version', NEW.version, 'op', left(TG_OP, 1))::text;
    END IF;
    PERFORM pg_notify('async_job_changed', payload);
    IF TG_OP = 'UPDATE' AND OLD.id IS DISTINCT FROM NEW.id THEN
        PERFORM pg_notify('async_job_changed', json_build_object(
            'id', OLD.id, 'version', nextval('async_jobs_version_seq'), 'op', 'D')::text);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER async_jobs_changed
    AFTER INSERT OR UPDATE OR DELETE ON async_jobs
    FOR EACH ROW EXECUTE FUNCTION async_jobs_notify();

-- +goose StatementBegin
CREATE FUNCTION async_jobs_notify_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('async_job_changed', json_build_object('op', 'T', 'version', nextval('async_jobs_version_seq'))::text);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER async_jobs_truncated
    AFTER TRUNCATE ON async_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION async_jobs_notify_truncate();

-- 00008's event log of status changes.
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
    INSERT INTO async_job_events (position, job_id, client_id, status, occurred_at, eta, links, error_code, error_message)
        VALUES (pos, NEW.id, NEW.client_id, NEW.status, clock_timestamp(), NEW.eta, NEW.links, NEW.error_code, NEW.error_message);
    PERFORM pg_notify('async_job_events', pos::text);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER async_job_events_record
    AFTER INSERT OR UPDATE OF status ON async_jobs
    FOR EACH ROW
    EXECUTE FUNCTION async_job_events_record();
