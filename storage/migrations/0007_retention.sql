-- Retention (contract/retention.py, storage/retention.py): an artifact whose rule expired loses its object in
-- the store, but its row stays, marked removed (when, and by what), so a run still lists what it had. Whole
-- runs past RETENTION_RUNS_DAYS are deleted with their rows. Every pass is recorded in retention_passes.

ALTER TABLE run_artifacts ADD COLUMN removed_at timestamptz;
ALTER TABLE run_artifacts ADD COLUMN removed_by text;
ALTER TABLE run_artifacts ADD CONSTRAINT run_artifacts_removed_check
    CHECK ((removed_at IS NULL) = (removed_by IS NULL));

-- A pass looks for the artifacts still there of a queue's runs finished before a cutoff, by kind: runs by
-- (queue, finished_at), then their artifacts not removed yet. The storage stats read the same artifacts.
CREATE INDEX run_artifacts_kept_idx ON run_artifacts (run_id, kind) WHERE removed_at IS NULL;
CREATE INDEX runs_queue_finished_idx ON runs (queue, finished_at) WHERE finished_at IS NOT NULL;
-- Growth per day (GET /api/stats/storage).
CREATE INDEX run_artifacts_created_idx ON run_artifacts (created_at);

CREATE TABLE retention_passes (
    id bigserial PRIMARY KEY,
    queue text NOT NULL,
    worker text NOT NULL,              -- the worker (or `reprise cleanup`) that ran it
    job_id text,                       -- the scheduler's BullMQ job, when a worker ran it
    dry_run boolean NOT NULL,          -- true: counted what would go, deleted nothing
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,           -- null while it runs (or when its process died mid-pass)
    artifacts_removed integer NOT NULL DEFAULT 0,  -- objects deleted, those of removed runs included
    runs_removed integer NOT NULL DEFAULT 0,
    bytes_freed bigint NOT NULL DEFAULT 0,
    groups jsonb NOT NULL DEFAULT '{}'::jsonb,     -- {"video": {"artifacts": n, "bytes": b}, ...}
    error text                         -- why it stopped early (the store refused, say); its batches so far count
);
CREATE INDEX retention_passes_queue_idx ON retention_passes (queue, started_at DESC);
