-- The dashboard: keyset listing with filters, live events, throughput, and saved recordings.
CREATE INDEX runs_number_status_idx ON runs (status, number DESC);
CREATE INDEX runs_worker_number_idx ON runs (worker_name, number DESC);
CREATE INDEX runs_finished_at_idx ON runs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE recordings (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    format text NOT NULL,
    script jsonb NOT NULL,
    step_count integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recordings_created_at_idx ON recordings (created_at DESC);
ALTER TABLE runs ADD COLUMN recording_id uuid REFERENCES recordings (id) ON DELETE SET NULL;
CREATE INDEX runs_recording_idx ON runs (recording_id, number DESC) WHERE recording_id IS NOT NULL;

-- Every change of a run or a step is announced on the channel the API's event stream listens to.
CREATE FUNCTION reprise_notify_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('reprise_events', json_build_object(
        'kind', 'run', 'id', NEW.id, 'number', NEW.number, 'status', NEW.status, 'attempts', NEW.attempts)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER runs_notify AFTER INSERT OR UPDATE ON runs FOR EACH ROW EXECUTE FUNCTION reprise_notify_run();

CREATE FUNCTION reprise_notify_step() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('reprise_events', json_build_object(
        'kind', 'step', 'runId', NEW.run_id, 'attempt', NEW.attempt, 'index', NEW.step_index,
        'status', NEW.status)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER run_steps_notify AFTER INSERT OR UPDATE ON run_steps FOR EACH ROW
    EXECUTE FUNCTION reprise_notify_step();
