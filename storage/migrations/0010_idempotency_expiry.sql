-- Idempotency keys remember the request they were used with, and expire.
--
-- idempotency_body_hash: sha256 of the request that used the key (the recording, name and options as
-- validated), so the same key with another body is refused instead of silently answering the first run.
-- idempotency_expires_at: after it, the key is released (set to NULL on the old run, which stays) and can queue
-- a new run. Rows from before this migration keep their key without an expiry.
ALTER TABLE runs ADD COLUMN idempotency_body_hash text;
ALTER TABLE runs ADD COLUMN idempotency_expires_at timestamptz;
