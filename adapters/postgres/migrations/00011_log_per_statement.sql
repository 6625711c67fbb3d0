-- +goose Up
-- The change log written once per statement instead of once per row.
-- 00009 logged each row from a row trigger (one PL/pgSQL call, one INSERT
-- and one set_config per row) and moved the head from a statement trigger
-- (another call, a current_setting, an UPDATE); every bit of it runs while
-- the log's lock (7305847) is held, so writers wait for it in turn, and it
-- made a writer slower than 00008's three triggers. Now one statement
-- trigger per kind of change reads the statement's transition table and
-- writes all its entries in one INSERT: the same log, entry for entry; a
-- statement changing 10^6 rows is one INSERT ... SELECT, not 10^6 trigger
-- calls.
--
-- The head row is no longer moved by every statement: updating that one
-- row, under the lock, cost a writer more than the log entry itself
-- (measured with scripts/bench/writes.sh). A writer moves it only when its
-- last position is 256 or more past it, so every committed position is
-- below head + 256, and a reader takes as the head the greater of the row
-- and the last position it sees in (head, head + 256] (adapters/postgres,
-- qHead): positions commit in order, so every position up to the last
-- one a snapshot sees is in it, and the window keeps a reader from
-- walking the entries of a bulk statement still in progress (at most 256
-- of them). Retention moves the row past what it deletes.
--
-- Unchanged: the BEFORE row trigger (00009's async_jobs_log_position)
-- takes the lock, held to commit, and the next position as the row's
-- version; positions commit in order; one doorbell per statement that
-- logged anything; TRUNCATE is 00009's trigger (it moves the head row).
--
-- Only an UPDATE that changes an id needs to pair the old row with the new
-- (a transition table does not pair them): a row trigger for those rows
-- alone (UPDATE OF id, WHEN the id changed: it costs other statements
-- nothing) logs the new id's put with its event flag; the statement
-- trigger logs the other puts and, for every id the statement left
-- behind, a delete after them.
--
-- Catalog changes only, in one transaction holding the table's lock, so
-- no write is logged by both the old triggers and the new or by neither;
-- like 00009 it waits 10 s at most for writers in progress, then fails
-- and changes nothing.

SET LOCAL lock_timeout = '10s';
LOCK TABLE async_jobs, async_job_events IN ACCESS EXCLUSIVE MODE;

DROP TRIGGER async_jobs_log_statement ON async_jobs;
DROP FUNCTION async_jobs_log_statement();
DROP TRIGGER async_jobs_log_row ON async_jobs;
DROP FUNCTION async_jobs_log_row();

-- Inserted rows: a put each, at the version the BEFORE trigger gave it;
-- the head row moved to the last when it is 256 behind, in one statement.
-- +goose StatementBegin
CREATE FUNCTION async_jobs_log_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER async_jobs_log_inserted
    AFTER INSERT ON async_jobs REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION async_jobs_log_inserted();

-- Updated rows: a put each, an event when the status changed. When ids
-- changed (async_jobs_log_moved_row logged those rows' puts and marked the
-- transaction), the puts of the other rows, then a delete, at a position
-- of its own, for every id that is gone (changed away and not taken by
-- another row of the statement). The BEFORE trigger took the lock for the
-- first row, so the deletes' positions are taken under it.
-- +goose StatementBegin
CREATE FUNCTION async_jobs_log_updated() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER async_jobs_log_updated
    AFTER UPDATE ON async_jobs REFERENCING OLD TABLE AS replaced NEW TABLE AS updated
    FOR EACH STATEMENT EXECUTE FUNCTION async_jobs_log_updated();

-- A row whose id changed: the put of its new id, an event when its status
-- changed too (the statement trigger cannot tell which old row it was),
-- and a mark for the statement trigger. Other statements never call it.
-- +goose StatementBegin
CREATE FUNCTION async_jobs_log_moved_row() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER async_jobs_log_moved_row
    AFTER UPDATE OF id ON async_jobs
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION async_jobs_log_moved_row();

-- Deleted rows: a delete each, at positions taken under the lock (no
-- BEFORE trigger took it for a DELETE).
-- +goose StatementBegin
CREATE FUNCTION async_jobs_log_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER async_jobs_log_deleted
    AFTER DELETE ON async_jobs REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION async_jobs_log_deleted();

-- +goose Down
-- Back to 00009's row and statement triggers.
SET LOCAL lock_timeout = '10s';
LOCK TABLE async_jobs, async_job_events IN ACCESS EXCLUSIVE MODE;

-- 00009's readers read the head row alone: make it exact (no writer is
-- in progress while this holds the table's lock).
UPDATE async_job_events_head SET position = greatest(position, coalesce((SELECT max(position) FROM async_job_events), 0));

DROP TRIGGER async_jobs_log_deleted ON async_jobs;
DROP FUNCTION async_jobs_log_deleted();
DROP TRIGGER async_jobs_log_moved_row ON async_jobs;
DROP FUNCTION async_jobs_log_moved_row();
DROP TRIGGER async_jobs_log_updated ON async_jobs;
DROP FUNCTION async_jobs_log_updated();
DROP TRIGGER async_jobs_log_inserted ON async_jobs;
DROP FUNCTION async_jobs_log_inserted();

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
