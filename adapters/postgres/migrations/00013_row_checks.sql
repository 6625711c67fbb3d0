-- +goose Up
-- Checks that refuse, in every row written from now on, what the service
-- cannot read or never writes. Hand-written SQL is a writer of async_jobs
-- like the service (the change log picks its changes up), and it could
-- store what 00001's checks allowed but the service cannot present: links
-- that are not objects with entity and href strings, times that are no
-- date ('infinity') or lie outside the years 1 to 9999 (RFC 3339 and HTTP
-- dates write no others), and values the domain never writes (a client id
-- or idempotency key outside its rule, a failure code outside 1 to 999, a
-- blank failure message). One check per column, so that a refused
-- statement names the column in the constraint's name.
--
-- NOT VALID: adding them scans nothing (a large table is not read under
-- the lock), and the rows already there are not checked; the service
-- reads those job by job (a job it cannot read fails alone).
-- docs/operations.md ("Rows written by hand") has the query that finds
-- them (async_jobs_broken_check, below) and how to VALIDATE the checks
-- once they are fixed. A NOT VALID check still applies to every row an
-- UPDATE writes, old rows included: updating a row that breaks one fails
-- until the row is fixed, so the sweeper leaves such rows alone.
--
-- Each check is a few comparisons, or a regular expression on a short
-- text, or two jsonpath queries over the links (no function per element);
-- what they cost an INSERT is measured in docs/performance.md.
--
-- Catalog changes only, under the table's lock for milliseconds; like
-- 00009 it waits 10 s at most for transactions holding the table, then
-- fails and changes nothing.

SET LOCAL lock_timeout = '10s';

ALTER TABLE async_jobs
    ADD CONSTRAINT async_jobs_links_shape CHECK (
        NOT links @? '$[*].type() ? (@ != "object")'
        AND NOT links @? '$[*] ? (!(@.entity.type() == "string") || !(@.href.type() == "string") || @.entity == "" || @.href == "")'
    ) NOT VALID,
    ADD CONSTRAINT async_jobs_eta_range
        CHECK (eta >= '0001-01-01 00:00:00+00' AND eta < '10000-01-01 00:00:00+00') NOT VALID,
    ADD CONSTRAINT async_jobs_created_at_range
        CHECK (created_at >= '0001-01-01 00:00:00+00' AND created_at < '10000-01-01 00:00:00+00') NOT VALID,
    ADD CONSTRAINT async_jobs_updated_at_range
        CHECK (updated_at >= '0001-01-01 00:00:00+00' AND updated_at < '10000-01-01 00:00:00+00') NOT VALID,
    ADD CONSTRAINT async_jobs_finished_at_range
        CHECK (finished_at >= '0001-01-01 00:00:00+00' AND finished_at < '10000-01-01 00:00:00+00') NOT VALID,
    -- domain.ValidClientID: 1 to 255 visible ASCII characters, no space
    -- (async_jobs_client_id_check refuses ''). Not '^[!-~]{1,255}$': a
    -- bounded repetition made the expression cost 19 us a row, 2.6 times
    -- a whole INSERT.
    ADD CONSTRAINT async_jobs_client_id_rule
        CHECK (client_id ~ '^[!-~]+$' AND octet_length(client_id) <= 255) NOT VALID,
    -- domain.ValidIdempotencyKey: 1 to 255 printable ASCII characters
    -- (async_jobs_idempotency_key_check bounds the length).
    ADD CONSTRAINT async_jobs_idempotency_key_rule CHECK (idempotency_key ~ '^[ -~]+$') NOT VALID,
    -- domain.ValidFailureCode.
    ADD CONSTRAINT async_jobs_error_code_range CHECK (error_code BETWEEN 1 AND 999) NOT VALID,
    -- A FAILED job needs a message that is not blank.
    ADD CONSTRAINT async_jobs_error_message_text CHECK (error_message ~ '\S') NOT VALID;

-- The first of the checks above that row j breaks, or NULL: the same
-- expressions (TestRowChecksAndTheirFinderAgree keeps them so), for the
-- operator's query and for the sweeper, which cannot update such a row.
-- +goose StatementBegin
CREATE FUNCTION async_jobs_broken_check(j async_jobs) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN NOT (NOT j.links @? '$[*].type() ? (@ != "object")'
                  AND NOT j.links @? '$[*] ? (!(@.entity.type() == "string") || !(@.href.type() == "string") || @.entity == "" || @.href == "")')
            THEN 'async_jobs_links_shape'
        WHEN NOT (j.eta >= '0001-01-01 00:00:00+00' AND j.eta < '10000-01-01 00:00:00+00') THEN 'async_jobs_eta_range'
        WHEN NOT (j.created_at >= '0001-01-01 00:00:00+00' AND j.created_at < '10000-01-01 00:00:00+00') THEN 'async_jobs_created_at_range'
        WHEN NOT (j.updated_at >= '0001-01-01 00:00:00+00' AND j.updated_at < '10000-01-01 00:00:00+00') THEN 'async_jobs_updated_at_range'
        WHEN NOT (j.finished_at >= '0001-01-01 00:00:00+00' AND j.finished_at < '10000-01-01 00:00:00+00') THEN 'async_jobs_finished_at_range'
        WHEN NOT (j.client_id ~ '^[!-~]+$' AND octet_length(j.client_id) <= 255) THEN 'async_jobs_client_id_rule'
        WHEN NOT (j.idempotency_key ~ '^[ -~]+$') THEN 'async_jobs_idempotency_key_rule'
        WHEN NOT (j.error_code BETWEEN 1 AND 999) THEN 'async_jobs_error_code_range'
        WHEN NOT (j.error_message ~ '\S') THEN 'async_jobs_error_message_text'
    END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION async_jobs_broken_check(async_jobs);
ALTER TABLE async_jobs
    DROP CONSTRAINT async_jobs_links_shape,
    DROP CONSTRAINT async_jobs_eta_range,
    DROP CONSTRAINT async_jobs_created_at_range,
    DROP CONSTRAINT async_jobs_updated_at_range,
    DROP CONSTRAINT async_jobs_finished_at_range,
    DROP CONSTRAINT async_jobs_client_id_rule,
    DROP CONSTRAINT async_jobs_idempotency_key_rule,
    DROP CONSTRAINT async_jobs_error_code_range,
    DROP CONSTRAINT async_jobs_error_message_text;
