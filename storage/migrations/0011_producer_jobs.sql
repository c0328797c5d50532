-- Runs from any BullMQ producer, and priorities.
--
-- job_id: the BullMQ job a run belongs to when that job was not added for it by Reprise (a Node producer's job, a
-- schedule's tick); NULL means the job's id is the run's id. One run per job and queue: a job tried again finds
-- its run instead of making a second one.
ALTER TABLE runs ADD COLUMN job_id text;
CREATE UNIQUE INDEX runs_queue_job_idx ON runs (queue, job_id) WHERE job_id IS NOT NULL;

-- The priority a saved recording's runs get unless their request names one (contract.options.Priority).
ALTER TABLE recordings ADD COLUMN priority text NOT NULL DEFAULT 'normal'
    CHECK (priority IN ('high', 'normal', 'low'));
