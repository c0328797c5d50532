-- Named queries, loaded by storage/queries.py. Status changes are guarded here so that a late or
-- stale writer can never overwrite a final status.

-- name: insert_run
INSERT INTO runs (id, name, script_format, script, options, idempotency_key, retry_of, import_warnings,
                  recording_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING *;

-- name: get_run_by_idempotency_key
SELECT * FROM runs WHERE idempotency_key = $1;

-- name: get_run
SELECT * FROM runs WHERE id = $1;

-- name: list_runs
-- Newest first by number (creation order), keyset-paged with $7 (number < $7). Text filters are
-- case-insensitive substrings; the caller escapes LIKE wildcards.
SELECT * FROM runs
WHERE ($1::text IS NULL OR status = $1)
  AND ($2::text IS NULL OR name ILIKE '%' || $2 || '%')
  AND ($3::text IS NULL OR worker_name = $3)
  AND ($4::text IS NULL OR name ILIKE '%' || $4 || '%' OR error ILIKE '%' || $4 || '%')
  AND ($5::timestamptz IS NULL OR created_at >= $5)
  AND ($6::timestamptz IS NULL OR created_at <= $6)
  AND ($7::bigint IS NULL OR number < $7)
ORDER BY number DESC
LIMIT $8 OFFSET $9;

-- name: count_runs
SELECT count(*) FROM runs
WHERE ($1::text IS NULL OR status = $1)
  AND ($2::text IS NULL OR name ILIKE '%' || $2 || '%')
  AND ($3::text IS NULL OR worker_name = $3)
  AND ($4::text IS NULL OR name ILIKE '%' || $4 || '%' OR error ILIKE '%' || $4 || '%')
  AND ($5::timestamptz IS NULL OR created_at >= $5)
  AND ($6::timestamptz IS NULL OR created_at <= $6);

-- name: start_attempt
-- A run may be started again while `running`: BullMQ hands a stalled job to another worker.
UPDATE runs
SET status = 'running', attempts = attempts + 1, worker_name = $2,
    started_at = coalesce(started_at, now()), error = NULL
WHERE id = $1 AND status IN ('queued', 'running')
RETURNING attempts;

-- name: insert_attempt
INSERT INTO run_attempts (run_id, attempt, worker_name, job_token) VALUES ($1, $2, $3, $4);

-- name: abandon_open_attempts
-- Earlier attempts still open when a new one starts were lost with their worker.
UPDATE run_attempts SET status = 'abandoned', finished_at = now(),
    error = coalesce(error, 'worker stopped before finishing (stalled job)')
WHERE run_id = $1 AND attempt < $2 AND status = 'running';

-- name: finish_run
-- Only the current attempt of a running run may finish it.
UPDATE runs
SET status = $3, error = $4, actions_executed = $5, duration_ms = $6, error_category = $7, finished_at = now()
WHERE id = $1 AND attempts = $2 AND status = 'running'
RETURNING *;

-- name: finish_attempt
UPDATE run_attempts SET status = $3, error = $4, error_category = $5, finished_at = now()
WHERE run_id = $1 AND attempt = $2 AND status = 'running';

-- name: fail_unstarted_run
-- A run that could not be handed to a worker (enqueue failed, invalid stored script).
UPDATE runs SET status = 'error', error = $2, error_category = $3, finished_at = now()
WHERE id = $1 AND status IN ('queued', 'running')
RETURNING *;

-- name: cancel_run
UPDATE runs SET status = 'cancelled', error = coalesce($2, 'cancelled'), finished_at = now()
WHERE id = $1 AND status IN ('queued', 'running')
RETURNING *;

-- name: upsert_step
INSERT INTO run_steps (run_id, attempt, step_index, step_type, status, duration_ms, started_offset_ms,
                       selector, error, error_category)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (run_id, attempt, step_index) DO UPDATE
SET status = excluded.status, duration_ms = excluded.duration_ms,
    started_offset_ms = excluded.started_offset_ms, selector = excluded.selector, error = excluded.error,
    error_category = excluded.error_category;

-- name: list_steps
SELECT * FROM run_steps WHERE run_id = $1 AND attempt = $2 ORDER BY step_index;

-- name: list_attempts
SELECT * FROM run_attempts WHERE run_id = $1 ORDER BY attempt;

-- name: insert_artifact
INSERT INTO run_artifacts (run_id, attempt, kind, step_index, storage_key, content_type, size_bytes)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (run_id, storage_key) DO UPDATE SET size_bytes = excluded.size_bytes
RETURNING *;

-- name: list_artifacts
SELECT * FROM run_artifacts WHERE run_id = $1 ORDER BY attempt, kind, step_index NULLS FIRST, id;

-- name: get_artifact
SELECT * FROM run_artifacts WHERE run_id = $1 AND id = $2;

-- name: requeue_run
-- The attempt ended in a way that is retried: the run waits in the queue again (BullMQ delays its job).
UPDATE runs SET status = 'queued', error = $3, error_category = $4
WHERE id = $1 AND attempts = $2 AND status = 'running'
RETURNING *;

-- name: list_unfinished_runs
-- Orphan sweep candidates: queued or running, with nothing new (no creation, no attempt) for $1 seconds.
SELECT r.* FROM runs r
WHERE r.status IN ('queued', 'running')
  AND r.created_at < now() - make_interval(secs => $1)
  AND NOT EXISTS (SELECT 1 FROM run_attempts a
                  WHERE a.run_id = r.id AND a.started_at >= now() - make_interval(secs => $1))
ORDER BY r.created_at
LIMIT $2;

-- name: abandon_run_attempts
UPDATE run_attempts SET status = 'abandoned', finished_at = now(), error = coalesce(error, $2)
WHERE run_id = $1 AND status = 'running';

-- name: requeue_orphan_run
UPDATE runs SET status = 'queued', error = $2
WHERE id = $1 AND status IN ('queued', 'running')
RETURNING *;

-- name: count_attempts_by_status
SELECT status, count(*) AS attempts FROM run_attempts WHERE run_id = $1 GROUP BY status;

-- name: throughput
-- Finished runs per bucket of $2 seconds over the last $1 seconds, every bucket present, oldest first.
WITH buckets AS (
    SELECT generate_series(
        to_timestamp(floor(extract(epoch FROM now() - make_interval(secs => $1)) / $2) * $2 + $2),
        to_timestamp(floor(extract(epoch FROM now()) / $2) * $2),
        make_interval(secs => $2)) AS start
)
SELECT b.start,
       count(r.id) FILTER (WHERE r.status = 'passed') AS passed,
       count(r.id) FILTER (WHERE r.status = 'failed') AS failed,
       count(r.id) FILTER (WHERE r.status = 'error') AS error,
       count(r.id) FILTER (WHERE r.status = 'cancelled') AS cancelled
FROM buckets b
LEFT JOIN runs r ON r.finished_at >= b.start AND r.finished_at < b.start + make_interval(secs => $2)
GROUP BY b.start
ORDER BY b.start;

-- name: insert_recording
INSERT INTO recordings (id, name, format, script, step_count) VALUES ($1, $2, $3, $4, $5)
RETURNING *, NULL::uuid AS last_run_id, NULL::text AS last_run_status, NULL::bigint AS last_run_number;

-- name: list_recordings
SELECT rec.*, last.id AS last_run_id, last.status AS last_run_status, last.number AS last_run_number
FROM recordings rec
LEFT JOIN LATERAL (SELECT id, status, number FROM runs WHERE recording_id = rec.id
                   ORDER BY number DESC LIMIT 1) last ON true
ORDER BY rec.created_at DESC, rec.id
LIMIT $1 OFFSET $2;

-- name: count_recordings
SELECT count(*) FROM recordings;

-- name: get_recording
SELECT rec.*, last.id AS last_run_id, last.status AS last_run_status, last.number AS last_run_number
FROM recordings rec
LEFT JOIN LATERAL (SELECT id, status, number FROM runs WHERE recording_id = rec.id
                   ORDER BY number DESC LIMIT 1) last ON true
WHERE rec.id = $1;

-- name: delete_recording
DELETE FROM recordings WHERE id = $1 RETURNING id;
