-- The run contract (contract/runs.py) in the database, and runs scoped by queue.
--
-- Statuses become ENUM types (0001's CHECK lists, which databases created before this migration still
-- have, are dropped: the types are the one definition in SQL). A trigger refuses every change of a run's
-- status that `run_status_transitions` does not list, so no writer, however late or buggy, can move a run
-- out of a final status; tests/integration/test_contract_schema.py holds both against contract/runs.py.

CREATE TYPE run_status AS ENUM ('queued', 'running', 'passed', 'failed', 'error', 'cancelled');
CREATE TYPE attempt_status AS ENUM ('running', 'passed', 'failed', 'error', 'cancelled', 'abandoned');
CREATE TYPE step_status AS ENUM ('passed', 'failed', 'skipped');

DROP INDEX IF EXISTS runs_status_idx;
DROP INDEX IF EXISTS runs_number_status_idx;
DROP INDEX IF EXISTS runs_worker_number_idx;

ALTER TABLE runs DROP CONSTRAINT IF EXISTS runs_status_check;
ALTER TABLE runs ALTER COLUMN status DROP DEFAULT;
ALTER TABLE runs ALTER COLUMN status TYPE run_status USING status::run_status;
ALTER TABLE runs ALTER COLUMN status SET DEFAULT 'queued';

ALTER TABLE run_attempts DROP CONSTRAINT IF EXISTS run_attempts_status_check;
ALTER TABLE run_attempts ALTER COLUMN status DROP DEFAULT;
ALTER TABLE run_attempts ALTER COLUMN status TYPE attempt_status USING status::attempt_status;
ALTER TABLE run_attempts ALTER COLUMN status SET DEFAULT 'running';

ALTER TABLE run_steps DROP CONSTRAINT IF EXISTS run_steps_status_check;
ALTER TABLE run_steps ALTER COLUMN status TYPE step_status USING status::step_status;

CREATE TABLE run_status_transitions (
    from_status run_status NOT NULL,
    to_status run_status NOT NULL,
    PRIMARY KEY (from_status, to_status)
);
INSERT INTO run_status_transitions (from_status, to_status) VALUES
    ('queued', 'running'), ('queued', 'error'), ('queued', 'cancelled'),
    ('running', 'queued'), ('running', 'passed'), ('running', 'failed'), ('running', 'error'),
    ('running', 'cancelled');

CREATE FUNCTION reprise_guard_run_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT EXISTS (
        SELECT 1 FROM run_status_transitions WHERE from_status = OLD.status AND to_status = NEW.status
    ) THEN
        RAISE EXCEPTION 'run % cannot change from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER runs_status_guard BEFORE UPDATE OF status ON runs FOR EACH ROW
    EXECUTE FUNCTION reprise_guard_run_status();

-- Every run belongs to the BullMQ queue it was put on. Runs made before this migration are taken to be on
-- the default queue; new rows must name theirs.
ALTER TABLE runs ADD COLUMN queue text NOT NULL DEFAULT 'test-runs';
ALTER TABLE runs ALTER COLUMN queue DROP DEFAULT;
ALTER TABLE runs DROP CONSTRAINT IF EXISTS runs_idempotency_key_key;
ALTER TABLE runs ADD CONSTRAINT runs_queue_idempotency_key_key UNIQUE (queue, idempotency_key);
CREATE INDEX runs_queue_number_idx ON runs (queue, number DESC);
CREATE INDEX runs_queue_status_number_idx ON runs (queue, status, number DESC);
CREATE INDEX runs_queue_worker_number_idx ON runs (queue, worker_name, number DESC);
CREATE INDEX runs_queue_unfinished_idx ON runs (queue, created_at) WHERE status IN ('queued', 'running');

-- Events carry the run's queue, so each API streams its own queue's runs only.
CREATE OR REPLACE FUNCTION reprise_notify_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('reprise_events', json_build_object(
        'kind', 'run', 'queue', NEW.queue, 'id', NEW.id, 'number', NEW.number, 'status', NEW.status,
        'attempts', NEW.attempts)::text);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reprise_notify_step() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('reprise_events', json_build_object(
        'kind', 'step', 'queue', (SELECT queue FROM runs WHERE id = NEW.run_id), 'runId', NEW.run_id,
        'attempt', NEW.attempt, 'index', NEW.step_index, 'status', NEW.status)::text);
    RETURN NULL;
END $$;
