-- A step event carries the whole step row, named as GET /api/runs/{id} names a step (contract StepResult), so a
-- dashboard patches the step into its page instead of reading the run again.
-- NOTIFY refuses a payload of 8000 bytes or more, and a refusal would fail the step's write: a step whose
-- selector or error is that long (both are unbounded) is announced without them, its `type` and its timings,
-- marked `"partial": true`; a client reads that step from GET /api/runs/{id}/attempts/{attempt}/steps.
-- `finish` writes every step of the attempt again; a row it leaves as it was is not announced again.
CREATE OR REPLACE FUNCTION reprise_notify_step() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    queue_name text;
    payload text;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW IS NOT DISTINCT FROM OLD THEN
        RETURN NULL;
    END IF;
    SELECT queue INTO queue_name FROM runs WHERE id = NEW.run_id;
    payload := json_build_object(
        'kind', 'step', 'queue', queue_name, 'runId', NEW.run_id, 'attempt', NEW.attempt, 'index', NEW.step_index,
        'status', NEW.status, 'type', NEW.step_type, 'durationMs', NEW.duration_ms,
        'startedOffsetMs', NEW.started_offset_ms, 'selector', NEW.selector, 'error', NEW.error,
        'category', NEW.error_category)::text;
    IF octet_length(payload) >= 8000 THEN
        payload := json_build_object(
            'kind', 'step', 'queue', queue_name, 'runId', NEW.run_id, 'attempt', NEW.attempt,
            'index', NEW.step_index, 'status', NEW.status, 'partial', true)::text;
    END IF;
    PERFORM pg_notify('reprise_events', payload);
    RETURN NULL;
END $$;
