-- Hostile input: idempotency keys that remember their request and expire; artifacts over a run's byte cap.
--
-- Idempotency keys remember the request they were used with, and expire.
--
-- idempotency_body_hash: sha256 of the request that used the key (the recording, name and options as
-- validated), so the same key with another body is refused instead of silently answering the first run.
-- idempotency_expires_at: after it, the key is released (set to NULL on the old run, which stays) and can queue
-- a new run. Rows from before this migration keep their key without an expiry.
ALTER TABLE runs ADD COLUMN idempotency_body_hash text;
ALTER TABLE runs ADD COLUMN idempotency_expires_at timestamptz;

-- Artifacts a worker did not store because the run reached RUN_ARTIFACTS_MAX_BYTES: one object each
-- ({attempt, kind, file, bytes}), shown with the run.
ALTER TABLE runs ADD COLUMN artifacts_skipped jsonb NOT NULL DEFAULT '[]';
