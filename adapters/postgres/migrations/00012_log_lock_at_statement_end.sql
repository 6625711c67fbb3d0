-- +goose Up
-- The change log's lock taken at the end of the statement, not before its
-- first row. Until now the BEFORE row trigger took the log's advisory lock
-- (7305847, held to commit) to make each row's version its log position,
-- so writers waited for each other from their first row on: through the
-- row's heap and index writes, the log's INSERT and the commit. That made
-- a writer slower than 00008's three triggers, whose lock was taken in an
-- AFTER trigger (scripts/bench/writes.sh; docs/performance.md).
--
-- Now:
-- - the BEFORE row trigger takes the row's version from the same sequence
--   without the lock: a job's versions still grow with each change (a
--   change of a row waits for the row's last writer to commit before its
--   BEFORE trigger runs), and the ETag still names the version;
-- - the AFTER statement triggers take the lock, then each entry's
--   position from the sequence: positions still commit in order, and a
--   change's position is above its version (taken later, from the same
--   sequence). Entries record the version (new column "version"; NULL in
--   entries written before, whose position was the version);
-- - a statement that changed no row takes no lock and rings no doorbell:
--   the lock is taken in the INSERT that logs, by a one-row CTE over the
--   transition table joined with it (a row of the join, so a position,
--   exists only once the lock was taken; an empty table gives none); one
--   query where a check, a lock and an INSERT were three;
-- - the head row: a writer still moves it when its last position (top) is
--   256 or more past it, but reads it only when top is 256 or more past
--   the head it last saw (kept for the session in the setting
--   jobstatus.log_head_seen: the row only moves forward, so the head it
--   saw is never above the row's), instead of an UPDATE per statement;
--   then it rings the doorbell. These lines stand in each trigger
--   function, not in a function of their own: the call cost writers 3 %
--   (scripts/bench/writes.sh, same-run pairs).
--
-- Unchanged: one entry per change, the same entries and events as 00011;
-- one doorbell per statement that logged anything; TRUNCATE (00009's
-- trigger); an UPDATE that changes ids is paired row by row by
-- async_jobs_log_moved_row, which now records the first position it took
-- (jobstatus.log_moved_from_<trigger depth>) so that the statement
-- trigger leaves out the rows it logged.
--
-- Catalog changes only (the new column is nullable without a default: no
-- rewrite), in one transaction holding the tables' locks, so that no write
-- is logged by both the old triggers and the new or by neither; it waits
-- 10 s at most for writers in progress, then fails and changes nothing.

SET LOCAL lock_timeout = '10s';
LOCK TABLE async_jobs, async_job_events IN ACCESS EXCLUSIVE MODE;

-- IF NOT EXISTS: Down keeps the column (below).
ALTER TABLE async_job_events ADD COLUMN IF NOT EXISTS version bigint;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION async_jobs_log_position() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := nextval('async_job_events_position_seq');
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

-- Inserted rows: a put each, at positions taken under the lock (see above
-- for the locked CTE).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION async_jobs_log_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    top  bigint;
    seen bigint;
BEGIN
    WITH locked AS MATERIALIZED (SELECT pg_advisory_xact_lock(7305847) FROM inserted LIMIT 1)
    INSERT INTO async_job_events (position, version, op, event, job_id, client_id, status, occurred_at,
            idempotency_key, eta, links, error_code, error_message, created_at, updated_at, finished_at)
        SELECT nextval('async_job_events_position_seq'), n.version, 'P', true, n.id, n.client_id, n.status, clock_timestamp(),
            n.idempotency_key, n.eta, n.links, n.error_code, n.error_message,
            n.created_at, n.updated_at, n.finished_at
        FROM locked, inserted n;
    IF FOUND THEN
        top := currval('async_job_events_position_seq');
        IF top >= coalesce(nullif(current_setting('jobstatus.log_head_seen', true), '')::bigint, 0) + 256 THEN
            UPDATE async_job_events_head SET position = greatest(position, top) RETURNING position INTO seen;
            PERFORM set_config('jobstatus.log_head_seen', seen::text, false);
        END IF;
        PERFORM pg_notify('async_job_log', '');
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- Updated rows: a put each, an event when the status changed. When ids
-- changed (async_jobs_log_moved_row logged those rows and said from which
-- position), the puts of the other rows, then a delete for every id that
-- is gone (changed away and not taken by another row of the statement).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION async_jobs_log_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved      text := 'jobstatus.log_moved_from_' || pg_trigger_depth(); -- see async_jobs_log_moved_row
    moved_from bigint := nullif(current_setting(moved, true), '')::bigint;
    top        bigint;
    seen       bigint;
BEGIN
    IF moved_from IS NULL THEN
        WITH locked AS MATERIALIZED (SELECT pg_advisory_xact_lock(7305847) FROM updated LIMIT 1)
        INSERT INTO async_job_events (position, version, op, event, job_id, client_id, status, occurred_at,
                idempotency_key, eta, links, error_code, error_message, created_at, updated_at, finished_at)
            SELECT nextval('async_job_events_position_seq'), n.version, 'P', o.status IS DISTINCT FROM n.status,
                n.id, n.client_id, n.status, clock_timestamp(),
                n.idempotency_key, n.eta, n.links, n.error_code, n.error_message,
                n.created_at, n.updated_at, n.finished_at
            FROM locked, updated n JOIN replaced o ON o.id = n.id;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
    ELSE
        -- The moved rows' trigger holds the lock and logged those rows
        -- at moved_from and after: nobody else logs while it is held.
        PERFORM set_config(moved, '', true);
        INSERT INTO async_job_events (position, version, op, event, job_id, client_id, status, occurred_at,
                idempotency_key, eta, links, error_code, error_message, created_at, updated_at, finished_at)
            SELECT nextval('async_job_events_position_seq'), n.version, 'P', o.status IS DISTINCT FROM n.status,
                n.id, n.client_id, n.status, clock_timestamp(),
                n.idempotency_key, n.eta, n.links, n.error_code, n.error_message,
                n.created_at, n.updated_at, n.finished_at
            FROM updated n JOIN replaced o ON o.id = n.id
            WHERE NOT EXISTS (SELECT FROM async_job_events e WHERE e.position >= moved_from AND e.version = n.version);
        INSERT INTO async_job_events (position, op, event, job_id, client_id, status, occurred_at)
            SELECT nextval('async_job_events_position_seq'), 'D', false, g.id, g.client_id, g.status, clock_timestamp()
            FROM (SELECT o.id, o.client_id, o.status FROM replaced o
                  WHERE NOT EXISTS (SELECT FROM updated n WHERE n.id = o.id) ORDER BY o.id) g;
    END IF;
    top := currval('async_job_events_position_seq');
    IF top >= coalesce(nullif(current_setting('jobstatus.log_head_seen', true), '')::bigint, 0) + 256 THEN
        UPDATE async_job_events_head SET position = greatest(position, top) RETURNING position INTO seen;
        PERFORM set_config('jobstatus.log_head_seen', seen::text, false);
    END IF;
    PERFORM pg_notify('async_job_log', '');
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- A row whose id changed: the put of its new id, an event when its status
-- changed too (the statement trigger cannot tell which old row it was),
-- at a position taken under the lock; the first such position of the
-- statement is recorded for the statement trigger. Other statements never
-- call it. The record is named for the trigger depth, which the statement
-- trigger of the same statement shares: a statement that a trigger runs
-- meanwhile (a trigger of the database's own writing jobs) fires its
-- triggers one level deeper and neither reads nor clears it.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION async_jobs_log_moved_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved text := 'jobstatus.log_moved_from_' || pg_trigger_depth();
BEGIN
    PERFORM pg_advisory_xact_lock(7305847);
    INSERT INTO async_job_events (position, version, op, event, job_id, client_id, status, occurred_at,
            idempotency_key, eta, links, error_code, error_message, created_at, updated_at, finished_at)
        VALUES (nextval('async_job_events_position_seq'), NEW.version, 'P', OLD.status IS DISTINCT FROM NEW.status,
            NEW.id, NEW.client_id, NEW.status, clock_timestamp(),
            NEW.idempotency_key, NEW.eta, NEW.links, NEW.error_code, NEW.error_message,
            NEW.created_at, NEW.updated_at, NEW.finished_at);
    IF coalesce(current_setting(moved, true), '') = '' THEN
        PERFORM set_config(moved, currval('async_job_events_position_seq')::text, true);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- Deleted rows: a delete each, at positions taken under the lock.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION async_jobs_log_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    top  bigint;
    seen bigint;
BEGIN
    WITH locked AS MATERIALIZED (SELECT pg_advisory_xact_lock(7305847) FROM deleted LIMIT 1)
    INSERT INTO async_job_events (position, op, event, job_id, client_id, status, occurred_at)
        SELECT nextval('async_job_events_position_seq'), 'D', false, d.id, d.client_id, d.status, clock_timestamp()
        FROM locked, deleted d;
    IF FOUND THEN
        top := currval('async_job_events_position_seq');
        IF top >= coalesce(nullif(current_setting('jobstatus.log_head_seen', true), '')::bigint, 0) + 256 THEN
            UPDATE async_job_events_head SET position = greatest(position, top) RETURNING position INTO seen;
            PERFORM set_config('jobstatus.log_head_seen', seen::text, false);
        END IF;
        PERFORM pg_notify('async_job_log', '');
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose Down
-- Back to 00011: the lock and the position taken by the BEFORE row
-- trigger, as the row's version. Entries written since keep their
-- positions (00011 reads the position as the version, so a job last
-- changed under 00012 gets a new ETag once there). The version column
-- stays: 00011 leaves it NULL (the position is the version), and the
-- entries written under 00012 keep theirs, so that after this migration
-- again the feed gives those jobs the versions the table has.
SET LOCAL lock_timeout = '10s';
LOCK TABLE async_jobs, async_job_events IN ACCESS EXCLUSIVE MODE;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION async_jobs_log_position() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- 7305847 is the change log's advisory lock key.
    PERFORM pg_advisory_xact_lock(7305847);
    NEW.version := nextval('async_job_events_position_seq');
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION async_jobs_log_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    top bigint;
BEGIN
    WITH logged AS (
        INSERT INTO async_job_events (position, op, event, job_id, client_id, status, occurred_at,
                idempotency_key, eta, links, error_code, error_message, created_at, updated_at, finished_at)
            SELECT n.version, 'P', true, n.id, n.client_id, n.status, clock_timestamp(),
                n.idempotency_key, n.eta, n.links, n.error_code, n.error_message,
                n.created_at, n.updated_at, n.finished_at
            FROM inserted n
            RETURNING position),
    moved AS (
        UPDATE async_job_events_head h SET position = l.top
            FROM (SELECT max(position) AS top FROM logged) l WHERE l.top >= h.position + 256)
    SELECT max(position) INTO top FROM logged;
    IF top IS NOT NULL THEN
        PERFORM pg_notify('async_job_log', '');
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION async_jobs_log_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    top bigint;
BEGIN
    IF current_setting('jobstatus.log_ids_moved', true) IS DISTINCT FROM 'on' THEN
        WITH logged AS (
            INSERT INTO async_job_events (position, op, event, job_id, client_id, status, occurred_at,
                    idempotency_key, eta, links, error_code, error_message, created_at, updated_at, finished_at)
                SELECT n.version, 'P', o.status IS DISTINCT FROM n.status, n.id, n.client_id, n.status, clock_timestamp(),
                    n.idempotency_key, n.eta, n.links, n.error_code, n.error_message,
                    n.created_at, n.updated_at, n.finished_at
                FROM updated n JOIN replaced o ON o.id = n.id
                RETURNING position),
        moved AS (
            UPDATE async_job_events_head h SET position = l.top
                FROM (SELECT max(position) AS top FROM logged) l WHERE l.top >= h.position + 256)
        SELECT max(position) INTO top FROM logged;
    ELSE
        PERFORM set_config('jobstatus.log_ids_moved', '', true);
        WITH logged AS (
            INSERT INTO async_job_events (position, op, event, job_id, client_id, status, occurred_at,
                    idempotency_key, eta, links, error_code, error_message, created_at, updated_at, finished_at)
                SELECT n.version, 'P', o.status IS DISTINCT FROM n.status, n.id, n.client_id, n.status, clock_timestamp(),
                    n.idempotency_key, n.eta, n.links, n.error_code, n.error_message,
                    n.created_at, n.updated_at, n.finished_at
                FROM updated n JOIN replaced o ON o.id = n.id
                ON CONFLICT (position) DO NOTHING -- a moved row's, logged by async_jobs_log_moved_row
                RETURNING position),
        gone AS (
            INSERT INTO async_job_events (position, op, event, job_id, client_id, status, occurred_at)
                SELECT nextval('async_job_events_position_seq'), 'D', false, g.id, g.client_id, g.status, clock_timestamp()
                FROM (SELECT o.id, o.client_id, o.status FROM replaced o
                      WHERE NOT EXISTS (SELECT FROM updated n WHERE n.id = o.id) ORDER BY o.id) g
                RETURNING position),
        last AS (
            SELECT greatest((SELECT max(position) FROM gone), (SELECT max(version) FROM updated)) AS top),
        moved AS (
            UPDATE async_job_events_head h SET position = l.top FROM last l WHERE l.top >= h.position + 256)
        SELECT l.top INTO top FROM last l;
    END IF;
    IF top IS NOT NULL THEN
        PERFORM pg_notify('async_job_log', '');
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION async_jobs_log_moved_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO async_job_events (position, op, event, job_id, client_id, status, occurred_at,
            idempotency_key, eta, links, error_code, error_message, created_at, updated_at, finished_at)
        VALUES (NEW.version, 'P', OLD.status IS DISTINCT FROM NEW.status,
            NEW.id, NEW.client_id, NEW.status, clock_timestamp(),
            NEW.idempotency_key, NEW.eta, NEW.links, NEW.error_code, NEW.error_message,
            NEW.created_at, NEW.updated_at, NEW.finished_at);
    PERFORM set_config('jobstatus.log_ids_moved', 'on', true);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION async_jobs_log_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM deleted) THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(7305847);
    WITH logged AS (
        INSERT INTO async_job_events (position, op, event, job_id, client_id, status, occurred_at)
            SELECT nextval('async_job_events_position_seq'), 'D', false, d.id, d.client_id, d.status, clock_timestamp()
            FROM deleted d
            RETURNING position)
    UPDATE async_job_events_head h SET position = l.top
        FROM (SELECT max(position) AS top FROM logged) l WHERE l.top >= h.position + 256;
    PERFORM pg_notify('async_job_log', '');
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

