-- A recording's history on one queue (GET /api/recordings/{id}/history; the last run in the recordings list):
-- its runs newest first, read by queue and recording without visiting the other queues' runs.
CREATE INDEX runs_queue_recording_number_idx ON runs (queue, recording_id, number DESC) WHERE recording_id IS NOT NULL;
