-- Flaky runs and quarantined recordings (issue 21; README "Flaky tests and quarantine", contract/flaky.py).
--
-- runs.flaky: the run passed on an attempt after one of its attempts failed (a test failure, run_attempts.status
-- 'failed'; infrastructure errors are not the test's flakiness). runs.quarantined: the run's recording was quarantined
-- when the run reached its final status. Both are set here, by a trigger, in the statement that makes the status final,
-- whoever writes it (a worker, the API's cancel, the orphan sweep), and never change after: un-quarantining a recording
-- does not rewrite its runs' history. A worker writes the run's status before its last attempt's row (storage/runs.py
-- `finish`), so that attempt is still 'running' here and only the earlier attempts' failures count.
ALTER TABLE runs ADD COLUMN flaky boolean NOT NULL DEFAULT false;
ALTER TABLE runs ADD COLUMN quarantined boolean NOT NULL DEFAULT false;

-- A quarantined recording's runs still run and are reported; a suite run and `reprise submit` do not fail because of
-- them. quarantined_by: the API key's name (by hand) or 'automatic' (FLAKY_QUARANTINE_FLIPS).
ALTER TABLE recordings ADD COLUMN quarantined_at timestamptz;
ALTER TABLE recordings ADD COLUMN quarantine_reason text;
ALTER TABLE recordings ADD COLUMN quarantined_by text;

-- A suite run's failed or error children whose run was quarantined: counted apart from failed and error, and not
-- held against the suite's result (contract/suites.py `suite_verdict`).
ALTER TABLE suite_runs ADD COLUMN quarantined int NOT NULL DEFAULT 0;

CREATE FUNCTION reprise_mark_final_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
        RETURN NEW;
    END IF;
    IF EXISTS (SELECT 1 FROM run_status_transitions WHERE from_status = NEW.status) THEN
        RETURN NEW;  -- not final
    END IF;
    NEW.flaky := NEW.status = 'passed' AND EXISTS (
        SELECT 1 FROM run_attempts WHERE run_id = NEW.id AND status = 'failed');
    NEW.quarantined := NEW.recording_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM recordings WHERE id = NEW.recording_id AND quarantined_at IS NOT NULL);
    RETURN NEW;
END $$;
CREATE TRIGGER runs_mark_final BEFORE UPDATE OF status ON runs FOR EACH ROW
    EXECUTE FUNCTION reprise_mark_final_run();
CREATE TRIGGER runs_mark_inserted_final BEFORE INSERT ON runs FOR EACH ROW
    EXECUTE FUNCTION reprise_mark_final_run();

-- The dashboard's run event says it too.
CREATE OR REPLACE FUNCTION reprise_notify_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('reprise_events', json_build_object(
        'kind', 'run', 'queue', NEW.queue, 'id', NEW.id, 'number', NEW.number, 'status', NEW.status,
        'attempts', NEW.attempts, 'flaky', NEW.flaky, 'quarantined', NEW.quarantined)::text);
    RETURN NULL;
END $$;

-- Runs that passed after a failed attempt before this migration (no event for them: the notify trigger is off while
-- they are marked).
ALTER TABLE runs DISABLE TRIGGER runs_notify;
UPDATE runs r SET flaky = true
WHERE r.status = 'passed' AND EXISTS (SELECT 1 FROM run_attempts a WHERE a.run_id = r.id AND a.status = 'failed');
ALTER TABLE runs ENABLE TRIGGER runs_notify;

-- GET /api/runs?flaky=true
CREATE INDEX runs_queue_flaky_number_idx ON runs (queue, number DESC) WHERE flaky;
