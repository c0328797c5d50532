-- Run metrics for Prometheus (GET /metrics on the API: storage/run_metrics.py): runs finished by status and
-- failure category, and a histogram of run durations, per queue. They are counters kept by a trigger on runs
-- when a run reaches a final status, so every API process and replica reports the same numbers, counts what
-- the workers (or the API, or the orphan sweep) finished, and a scrape reads a few rows instead of aggregating
-- runs. No foreign key ties them to runs: retention deleting runs never lowers a counter.
--
-- A final status is one the run cannot leave: one with no row in run_status_transitions (migration 0006, which
-- mirrors contract/runs.py), so finality has one definition in SQL. The guard trigger lets a run reach a final
-- status once, so each run is counted once, and only when its transaction commits.

-- Upper bounds (seconds, inclusive) of the duration histogram's buckets: browser tests from a second to half an
-- hour. Fixed: changing them would mix old counts into new buckets (add another table instead).
CREATE TABLE metric_run_duration_bounds (
    le double precision PRIMARY KEY
);
INSERT INTO metric_run_duration_bounds (le) VALUES
    (1), (2), (5), (10), (15), (30), (60), (120), (300), (600), (900), (1800), ('Infinity');

-- Runs that reached a final status; category 'none' for runs without a failure category (passed, most
-- cancelled ones).
CREATE TABLE metric_runs_finished (
    queue text NOT NULL,
    status run_status NOT NULL,
    category text NOT NULL,
    runs bigint NOT NULL,
    PRIMARY KEY (queue, status, category)
);

-- Final runs with a duration (runs.duration_ms: the replay of their last attempt; runs that ended without one,
-- such as those cancelled while queued, are counted in metric_runs_finished only), one row per bucket, NOT
-- cumulative: `runs` whose duration is in (the previous bound, le], `seconds` the sum of their durations.
CREATE TABLE metric_run_durations (
    queue text NOT NULL,
    le double precision NOT NULL REFERENCES metric_run_duration_bounds (le),
    runs bigint NOT NULL,
    seconds double precision NOT NULL,
    PRIMARY KEY (queue, le)
);

CREATE FUNCTION reprise_count_finished_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM run_status_transitions WHERE from_status = NEW.status) THEN
        RETURN NULL;  -- not final
    END IF;
    INSERT INTO metric_runs_finished AS m (queue, status, category, runs)
    VALUES (NEW.queue, NEW.status, coalesce(NEW.error_category, 'none'), 1)
    ON CONFLICT (queue, status, category) DO UPDATE SET runs = m.runs + 1;
    IF NEW.duration_ms IS NOT NULL THEN
        INSERT INTO metric_run_durations AS d (queue, le, runs, seconds)
        SELECT NEW.queue, min(b.le), 1, NEW.duration_ms / 1000.0
        FROM metric_run_duration_bounds b WHERE b.le >= NEW.duration_ms / 1000.0
        ON CONFLICT (queue, le) DO UPDATE SET runs = d.runs + 1, seconds = d.seconds + excluded.seconds;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER runs_count_finished AFTER UPDATE OF status ON runs FOR EACH ROW
    EXECUTE FUNCTION reprise_count_finished_run();
-- Runs are inserted `queued`; one written final straight away (by hand, by a restore) counts too.
CREATE TRIGGER runs_count_inserted_final AFTER INSERT ON runs FOR EACH ROW
    EXECUTE FUNCTION reprise_count_finished_run();

-- The runs already final when this migration runs, counted once.
INSERT INTO metric_runs_finished (queue, status, category, runs)
SELECT r.queue, r.status, coalesce(r.error_category, 'none'), count(*)
FROM runs r
WHERE NOT EXISTS (SELECT 1 FROM run_status_transitions t WHERE t.from_status = r.status)
GROUP BY 1, 2, 3;

INSERT INTO metric_run_durations (queue, le, runs, seconds)
SELECT r.queue,
       (SELECT min(b.le) FROM metric_run_duration_bounds b WHERE b.le >= r.duration_ms / 1000.0) AS le,
       count(*), sum(r.duration_ms / 1000.0)
FROM runs r
WHERE r.duration_ms IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM run_status_transitions t WHERE t.from_status = r.status)
GROUP BY 1, 2;
