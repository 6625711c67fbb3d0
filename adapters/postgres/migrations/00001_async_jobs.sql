-- +goose Up
-- One row per asynchronous composition job. Reads are by primary key only;
-- the owner check happens on the fetched row, so no other index is needed.
CREATE TABLE async_jobs (
    id            uuid        PRIMARY KEY,
    client_id     text        NOT NULL CHECK (client_id <> ''),
    status        text        NOT NULL CHECK (status IN ('PENDING', 'DONE', 'FAILED')),
    eta           timestamptz NOT NULL,
    links         jsonb       NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(links) = 'array'),
    error_code    integer,
    error_message text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    CONSTRAINT async_jobs_outcome CHECK (
        (status = 'PENDING' AND finished_at IS NULL AND error_code IS NULL AND error_message IS NULL)
     OR (status = 'DONE' AND finished_at IS NOT NULL AND jsonb_array_length(links) > 0 AND error_code IS NULL)
     OR (status = 'FAILED' AND finished_at IS NOT NULL AND error_code IS NOT NULL AND error_message IS NOT NULL)
    )
);

-- +goose Down
DROP TABLE async_jobs;
