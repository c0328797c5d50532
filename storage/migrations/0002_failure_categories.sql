-- Why a run or step did not pass (runner.results.FailureCategory), for filtering and at-a-glance triage.
ALTER TABLE runs ADD COLUMN error_category text;
ALTER TABLE run_steps ADD COLUMN error_category text;
ALTER TABLE run_attempts ADD COLUMN error_category text;
CREATE INDEX runs_error_category_idx ON runs (error_category, created_at DESC) WHERE error_category IS NOT NULL;
