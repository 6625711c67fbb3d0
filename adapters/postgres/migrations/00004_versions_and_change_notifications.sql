-- +goose NO TRANSACTION
-- Every change of a row gets a version from one sequence, and every insert,
-- update and delete is announced with it, whoever makes it (the service,
-- the jobs commands, the sweeper, the purge, another instance, hand-written
-- SQL). Readers keep jobs in memory and use the version to tell a newer
-- state from an older one.
--
-- Written for a large table without a long lock: the column is added
-- nullable (no rewrite), new writes get versions from the trigger at once,
-- old rows are backfilled in committed batches, and NOT NULL is proved by a
-- constraint validated under a lock that lets reads and writes through.

-- +goose Up
CREATE SEQUENCE IF NOT EXISTS async_jobs_version_seq AS bigint;

ALTER TABLE async_jobs ADD COLUMN IF NOT EXISTS version bigint;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION async_jobs_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := nextval('async_jobs_version_seq');
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

DROP TRIGGER IF EXISTS async_jobs_versioned ON async_jobs;
CREATE TRIGGER async_jobs_versioned
    BEFORE INSERT OR UPDATE ON async_jobs
    FOR EACH ROW EXECUTE FUNCTION async_jobs_version();

-- Old rows, 5 000 per committed batch, so no lock is held for long.
-- +goose StatementBegin
DO $$
DECLARE
    n integer;
BEGIN
    LOOP
        UPDATE async_jobs SET version = nextval('async_jobs_version_seq')
        WHERE id IN (SELECT id FROM async_jobs WHERE version IS NULL LIMIT 5000);
        GET DIAGNOSTICS n = ROW_COUNT;
        COMMIT;
        EXIT WHEN n = 0;
    END LOOP;
END;
$$;
-- +goose StatementEnd

-- A default too, so rows written with triggers disabled (a bulk load with
-- session_replication_role = replica) still get a version.
ALTER TABLE async_jobs ALTER COLUMN version SET DEFAULT nextval('async_jobs_version_seq');

-- NOT NULL without a long scan under an exclusive lock: a NOT VALID check
-- is validated with a lock that lets reads and writes through, and SET NOT
-- NULL then trusts it instead of scanning.
ALTER TABLE async_jobs ADD CONSTRAINT async_jobs_version_not_null CHECK (version IS NOT NULL) NOT VALID;
ALTER TABLE async_jobs VALIDATE CONSTRAINT async_jobs_version_not_null;
ALTER TABLE async_jobs ALTER COLUMN version SET NOT NULL;
ALTER TABLE async_jobs DROP CONSTRAINT async_jobs_version_not_null;

-- Announce every change: id, version, operation, and the new row itself
-- when it fits in a notification (8 000 bytes at most), so a reader needs
-- no query to learn the new state. A delete gets a fresh version of its own.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION async_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
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
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

DROP TRIGGER IF EXISTS async_jobs_changed ON async_jobs;
CREATE TRIGGER async_jobs_changed
    AFTER INSERT OR UPDATE OR DELETE ON async_jobs
    FOR EACH ROW EXECUTE FUNCTION async_jobs_notify();

-- TRUNCATE fires no row trigger: it is announced once, and readers drop
-- everything they hold.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION async_jobs_notify_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('async_job_changed', json_build_object('op', 'T', 'version', nextval('async_jobs_version_seq'))::text);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

DROP TRIGGER IF EXISTS async_jobs_truncated ON async_jobs;
CREATE TRIGGER async_jobs_truncated
    AFTER TRUNCATE ON async_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION async_jobs_notify_truncate();

-- +goose Down
DROP TRIGGER IF EXISTS async_jobs_truncated ON async_jobs;
DROP FUNCTION IF EXISTS async_jobs_notify_truncate();
DROP TRIGGER IF EXISTS async_jobs_changed ON async_jobs;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION async_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
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
DROP TRIGGER IF EXISTS async_jobs_versioned ON async_jobs;
DROP FUNCTION IF EXISTS async_jobs_version();
ALTER TABLE async_jobs DROP COLUMN IF EXISTS version;
DROP SEQUENCE IF EXISTS async_jobs_version_seq;
