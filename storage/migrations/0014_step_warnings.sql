-- A step can pass or be skipped with a warning: a click whose point another element received, a Recorder
-- `customStep` skipped because it needs an extension. Step events carry it too (the step row, as in 0013).
ALTER TABLE run_steps ADD COLUMN warning text;

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
        'category', NEW.error_category, 'warning', NEW.warning)::text;
    IF octet_length(payload) >= 8000 THEN
        payload := json_build_object(
            'kind', 'step', 'queue', queue_name, 'runId', NEW.run_id, 'attempt', NEW.attempt,
            'index', NEW.step_index, 'status', NEW.status, 'partial', true)::text;
    END IF;
    PERFORM pg_notify('reprise_events', payload);
    RETURN NULL;
END $$;
