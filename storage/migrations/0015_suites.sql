-- STAND-IN for the lead's 0015 (suites), written in the webhooks branch only so that 0016 can be tested: exactly the
-- schema of the suites contract (tables, enum, runs.suite_run_id), nothing else. The lead's real 0015 replaces
-- this file at the merge.
CREATE TABLE suites (
    id uuid PRIMARY KEY,
    name text UNIQUE NOT NULL,
    defaults jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE suite_recordings (
    suite_id uuid NOT NULL REFERENCES suites (id) ON DELETE CASCADE,
    recording_id uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    position integer NOT NULL,
    PRIMARY KEY (suite_id, position)
);

CREATE TYPE suite_run_status AS ENUM ('queued', 'running', 'passed', 'failed', 'error', 'cancelled');

CREATE TABLE suite_runs (
    id uuid PRIMARY KEY,
    number bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    suite_id uuid REFERENCES suites (id) ON DELETE SET NULL,
    suite_name text NOT NULL,
    queue text NOT NULL,
    status suite_run_status NOT NULL DEFAULT 'queued',
    passed integer NOT NULL DEFAULT 0,
    failed integer NOT NULL DEFAULT 0,
    error integer NOT NULL DEFAULT 0,
    cancelled integer NOT NULL DEFAULT 0,
    queued_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz
);

ALTER TABLE runs ADD COLUMN suite_run_id uuid REFERENCES suite_runs (id) ON DELETE SET NULL;
