-- +goose Up
-- An UPDATE that changes a job's id (hand-written SQL; the service never
-- does) moved the row: readers holding the old id must drop it. The
-- notification of the new row alone left the old id served from memory on
-- every instance, so such an update is also announced as a delete of the
-- old id, with a fresh version of its own (taken after the new row's).
-- A change of client_id needs nothing more: the new row carries the new
-- owner, and readers check ownership on it.
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
    IF TG_OP = 'UPDATE' AND OLD.id IS DISTINCT FROM NEW.id THEN
        PERFORM pg_notify('async_job_changed', json_build_object(
            'id', OLD.id, 'version', nextval('async_jobs_version_seq'), 'op', 'D')::text);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose Down
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
