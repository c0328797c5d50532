-- Runs, their attempts, per-step results and artifacts.
CREATE TABLE runs (
    id uuid PRIMARY KEY,
    number bigserial UNIQUE NOT NULL,
    name text NOT NULL,
    script_format text NOT NULL,
    script jsonb NOT NULL,
    options jsonb NOT NULL,
    status text NOT NULL DEFAULT 'queued',  -- the run_status ENUM since 0006
    attempts integer NOT NULL DEFAULT 0,
    worker_name text,
    error text,
    idempotency_key text UNIQUE,
    retry_of uuid REFERENCES runs (id) ON DELETE SET NULL,
    actions_executed integer,
    duration_ms integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz
);
CREATE INDEX runs_created_at_idx ON runs (created_at DESC, number DESC);
CREATE INDEX runs_status_idx ON runs (status, created_at DESC);

CREATE TABLE run_attempts (
    run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    worker_name text NOT NULL,
    job_token text,
    status text NOT NULL DEFAULT 'running',  -- the attempt_status ENUM since 0006
    error text,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (run_id, attempt)
);

CREATE TABLE run_steps (
    run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    step_index integer NOT NULL,
    step_type text NOT NULL,
    status text NOT NULL,  -- the step_status ENUM since 0006
    duration_ms integer NOT NULL,
    started_offset_ms integer NOT NULL DEFAULT 0,
    selector text,
    error text,
    PRIMARY KEY (run_id, attempt, step_index)
);

CREATE TABLE run_artifacts (
    id bigserial PRIMARY KEY,
    run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    kind text NOT NULL,
    step_index integer,
    storage_key text NOT NULL,
    content_type text NOT NULL,
    size_bytes bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, storage_key)
);
CREATE INDEX run_artifacts_run_idx ON run_artifacts (run_id, attempt);
