-- Suites (issue 20): a named set of saved recordings with run options they share, run together as one suite run.
-- A suite run's children are ordinary runs (runs.suite_run_id); the queue groups them with a BullMQ flow whose parent
-- job, on the `<queue>-suites` queue, completes when every child's job has; its worker writes the suite's result
-- once (the status changes from queued/running to a final one only here, guarded: `finish_suite_run`).
-- The statuses are contract.suites.SuiteRunStatus (tests/integration/test_contract_schema.py holds them equal).
CREATE TYPE suite_run_status AS ENUM ('queued', 'running', 'passed', 'failed', 'error', 'cancelled');

CREATE TABLE suites (
    id uuid PRIMARY KEY,
    name text NOT NULL UNIQUE,
    defaults jsonb NOT NULL DEFAULT '{}',
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A deleted recording leaves the suites it was in.
CREATE TABLE suite_recordings (
    suite_id uuid NOT NULL REFERENCES suites (id) ON DELETE CASCADE,
    recording_id uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    position int NOT NULL,
    PRIMARY KEY (suite_id, recording_id)
);
CREATE INDEX suite_recordings_recording_idx ON suite_recordings (recording_id);

-- suite_name: the suite's name when the run was made (what the run shows once the suite is gone).
CREATE TABLE suite_runs (
    id uuid PRIMARY KEY,
    number bigint GENERATED ALWAYS AS IDENTITY,
    queue text NOT NULL,
    suite_id uuid REFERENCES suites (id) ON DELETE SET NULL,
    suite_name text NOT NULL,
    status suite_run_status NOT NULL DEFAULT 'queued',
    options jsonb NOT NULL DEFAULT '{}',
    passed int NOT NULL DEFAULT 0,
    failed int NOT NULL DEFAULT 0,
    error int NOT NULL DEFAULT 0,
    cancelled int NOT NULL DEFAULT 0,
    cancel_requested boolean NOT NULL DEFAULT false,
    queued_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX suite_runs_queue_number_idx ON suite_runs (queue, number DESC);
CREATE INDEX suite_runs_suite_number_idx ON suite_runs (suite_id, number DESC) WHERE suite_id IS NOT NULL;

-- A final suite status changes no more (the one writer guards it too; this holds every other).
CREATE FUNCTION reprise_suite_run_final_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN ('passed', 'failed', 'error', 'cancelled') AND NEW.status IS DISTINCT FROM OLD.status THEN
        RAISE EXCEPTION 'suite run % is already %', OLD.id, OLD.status USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER suite_runs_final_guard BEFORE UPDATE OF status ON suite_runs
    FOR EACH ROW EXECUTE FUNCTION reprise_suite_run_final_guard();

-- The suite run a run is a child of (NULL: not a suite's).
ALTER TABLE runs ADD COLUMN suite_run_id uuid REFERENCES suite_runs (id) ON DELETE SET NULL;
CREATE INDEX runs_suite_run_idx ON runs (suite_run_id) WHERE suite_run_id IS NOT NULL;
