-- Named queries, loaded by storage/queries.py. Every query on runs is scoped to one queue ($1): two
-- queues that share a database never see each other's runs. Status changes are guarded here (WHERE status
-- IN ...) so that a late or stale writer changes nothing, and the runs_status_guard trigger (migration
-- 0006) refuses any change contract/runs.py does not allow.

-- name: insert_run
-- Nothing is inserted (no row returned) when the idempotency key ($7) or the job ($14) already has a run here.
INSERT INTO runs (queue, id, name, script_format, script, options, idempotency_key, retry_of, import_warnings,
                  recording_id, queued_by, idempotency_body_hash, idempotency_expires_at, job_id, schedule_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
        CASE WHEN $7::text IS NULL THEN NULL ELSE now() + make_interval(secs => $13::double precision) END, $14, $15)
ON CONFLICT DO NOTHING
RETURNING *;

-- name: insert_runs
-- A batch of runs in one statement (POST /api/runs/batch), numbered in the order given ($2..$8 are arrays of the
-- same length, one element per run; the JSON columns as JSON text, since a list inside an array parameter would
-- be read as another dimension; $9..$11 are the whole batch's). Nothing is inserted for a run whose idempotency
-- key ($7) already has a run here; the caller finds those by key.
INSERT INTO runs (queue, id, name, script_format, script, options, idempotency_key, import_warnings, queued_by,
                  idempotency_body_hash, idempotency_expires_at)
SELECT $1, batch.id, batch.name, batch.script_format, batch.script::jsonb, batch.options::jsonb,
       batch.idempotency_key, batch.import_warnings::jsonb, $9, $10,
       CASE WHEN batch.idempotency_key IS NULL THEN NULL ELSE now() + make_interval(secs => $11::double precision) END
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
     WITH ORDINALITY AS batch (id, name, script_format, script, options, idempotency_key, import_warnings, position)
ORDER BY batch.position
ON CONFLICT DO NOTHING
RETURNING *;

-- name: release_expired_idempotency_keys
UPDATE runs SET idempotency_key = NULL
WHERE queue = $1 AND idempotency_key = ANY($2::text[]) AND idempotency_expires_at <= now();

-- name: get_runs_by_idempotency_keys
SELECT * FROM runs WHERE queue = $1 AND idempotency_key = ANY($2::text[]);

-- name: get_run_by_job
SELECT * FROM runs WHERE queue = $1 AND job_id = $2;

-- name: release_expired_idempotency_key
-- A key past its expiry no longer names its run (which stays), so the key can queue a new one.
UPDATE runs SET idempotency_key = NULL
WHERE queue = $1 AND idempotency_key = $2 AND idempotency_expires_at <= now();

-- name: get_run_by_idempotency_key
SELECT * FROM runs WHERE queue = $1 AND idempotency_key = $2;

-- name: get_run
SELECT * FROM runs WHERE queue = $1 AND id = $2;

-- name: get_run_status
SELECT status FROM runs WHERE queue = $1 AND id = $2;

-- name: list_runs
-- Newest first by number (creation order), keyset-paged with $10 (number < $10). Text filters are
-- case-insensitive substrings; the caller escapes LIKE wildcards. A page never carries the recordings (up to
-- megabytes each): every column but `script`, which is read with one run.
SELECT id, queue, number, name, script_format, '{}'::jsonb AS script, options, status, attempts, worker_name,
       error, error_category, idempotency_key, retry_of, recording_id, import_warnings, actions_executed,
       duration_ms, created_at, started_at, finished_at, artifacts_skipped, job_id, schedule_id, queued_by,
       cancelled_by, suite_run_id, flaky, quarantined
FROM runs
WHERE queue = $1
  AND ($2::run_status IS NULL OR status = $2)
  AND ($3::text IS NULL OR name ILIKE '%' || $3 || '%')
  AND ($4::text IS NULL OR worker_name = $4)
  AND ($5::text IS NULL OR name ILIKE '%' || $5 || '%' OR error ILIKE '%' || $5 || '%')
  AND ($6::timestamptz IS NULL OR created_at >= $6)
  AND ($7::timestamptz IS NULL OR created_at <= $7)
  AND ($8::text IS NULL OR coalesce(options->>'priority', 'normal') = $8)
  AND ($9::uuid IS NULL OR schedule_id = $9)
  AND ($13::boolean IS NULL OR flaky = $13)
  AND ($10::bigint IS NULL OR number < $10)
ORDER BY number DESC
LIMIT $11 OFFSET $12;

-- name: count_runs
SELECT count(*) FROM runs
WHERE queue = $1
  AND ($2::run_status IS NULL OR status = $2)
  AND ($3::text IS NULL OR name ILIKE '%' || $3 || '%')
  AND ($4::text IS NULL OR worker_name = $4)
  AND ($5::text IS NULL OR name ILIKE '%' || $5 || '%' OR error ILIKE '%' || $5 || '%')
  AND ($6::timestamptz IS NULL OR created_at >= $6)
  AND ($7::timestamptz IS NULL OR created_at <= $7)
  AND ($8::text IS NULL OR coalesce(options->>'priority', 'normal') = $8)
  AND ($9::uuid IS NULL OR schedule_id = $9)
  AND ($10::boolean IS NULL OR flaky = $10);

-- name: start_attempt
-- A run may be started again while `running`: BullMQ hands a stalled job to another worker.
UPDATE runs
SET status = 'running', attempts = attempts + 1, worker_name = $3,
    started_at = coalesce(started_at, now()), error = NULL
WHERE queue = $1 AND id = $2 AND status IN ('queued', 'running')
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
SET status = $4, error = $5, actions_executed = $6, duration_ms = $7, error_category = $8, finished_at = now()
WHERE queue = $1 AND id = $2 AND attempts = $3 AND status = 'running'
RETURNING *;

-- name: finish_attempt
UPDATE run_attempts SET status = $3, error = $4, error_category = $5, finished_at = now()
WHERE run_id = $1 AND attempt = $2 AND status = 'running';

-- name: fail_unstarted_run
-- A run that could not be handed to a worker (enqueue failed, invalid stored script) or that nobody will
-- finish (the orphan sweep).
UPDATE runs SET status = 'error', error = $3, error_category = $4, finished_at = now()
WHERE queue = $1 AND id = $2 AND status IN ('queued', 'running')
RETURNING *;

-- name: fail_unstarted_runs
-- A batch whose jobs could not be added: every run of it that is still queued ends `error` with the reason.
UPDATE runs SET status = 'error', error = $3, error_category = $4, finished_at = now()
WHERE queue = $1 AND id = ANY($2::uuid[]) AND status IN ('queued', 'running')
RETURNING id;

-- name: cancel_run
UPDATE runs SET status = 'cancelled', error = coalesce($3, 'cancelled'), finished_at = now(), cancelled_by = $4
WHERE queue = $1 AND id = $2 AND status IN ('queued', 'running')
RETURNING *;

-- name: upsert_step
INSERT INTO run_steps (run_id, attempt, step_index, step_type, status, duration_ms, started_offset_ms,
                       selector, error, error_category, warning)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (run_id, attempt, step_index) DO UPDATE
SET status = excluded.status, duration_ms = excluded.duration_ms,
    started_offset_ms = excluded.started_offset_ms, selector = excluded.selector, error = excluded.error,
    error_category = excluded.error_category, warning = excluded.warning;

-- name: list_steps
-- Named as contract.results.StepResult names them.
SELECT step_index AS index, step_type AS type, status, duration_ms, started_offset_ms, selector, error,
       error_category AS category, warning
FROM run_steps WHERE run_id = $1 AND attempt = $2 ORDER BY step_index;

-- name: list_attempts
SELECT * FROM run_attempts WHERE run_id = $1 ORDER BY attempt;

-- name: insert_artifact
INSERT INTO run_artifacts (run_id, attempt, kind, step_index, storage_key, content_type, size_bytes)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (run_id, storage_key) DO UPDATE SET size_bytes = excluded.size_bytes
RETURNING *;

-- name: list_artifacts
SELECT * FROM run_artifacts WHERE run_id = $1 ORDER BY attempt, kind, step_index NULLS FIRST, id;

-- name: run_artifact_bytes
-- What a run's artifacts take in the store, every attempt's (against RUN_ARTIFACTS_MAX_BYTES).
SELECT coalesce(sum(size_bytes), 0)::bigint FROM run_artifacts WHERE run_id = $1;

-- name: note_skipped_artifacts
UPDATE runs SET artifacts_skipped = artifacts_skipped || $3::jsonb WHERE queue = $1 AND id = $2;

-- name: get_artifact
SELECT * FROM run_artifacts WHERE run_id = $1 AND id = $2;

-- name: requeue_run
-- The attempt ended in a way that is retried: the run waits in the queue again (BullMQ delays its job).
UPDATE runs SET status = 'queued', error = $4, error_category = $5
WHERE queue = $1 AND id = $2 AND attempts = $3 AND status = 'running'
RETURNING *;

-- name: list_unfinished_runs
-- Orphan sweep candidates of one queue: queued or running, with nothing new (no creation, no attempt)
-- for $2 seconds.
SELECT r.* FROM runs r
WHERE r.queue = $1
  AND r.status IN ('queued', 'running')
  AND r.created_at < now() - make_interval(secs => $2)
  AND NOT EXISTS (SELECT 1 FROM run_attempts a
                  WHERE a.run_id = r.id AND a.started_at >= now() - make_interval(secs => $2))
ORDER BY r.created_at
LIMIT $3;

-- name: abandon_run_attempts
UPDATE run_attempts SET status = 'abandoned', finished_at = now(), error = coalesce(error, $2)
WHERE run_id = $1 AND status = 'running';

-- name: requeue_orphan_run
UPDATE runs SET status = 'queued', error = $3
WHERE queue = $1 AND id = $2 AND status IN ('queued', 'running')
RETURNING *;

-- name: count_attempts_by_status
SELECT status, count(*) AS attempts FROM run_attempts WHERE run_id = $1 GROUP BY status;

-- name: throughput
-- Finished runs of one queue per bucket of $3 seconds over the last $2 seconds, every bucket present,
-- oldest first.
WITH buckets AS (
    SELECT generate_series(
        to_timestamp(floor(extract(epoch FROM now() - make_interval(secs => $2)) / $3) * $3 + $3),
        to_timestamp(floor(extract(epoch FROM now()) / $3) * $3),
        make_interval(secs => $3)) AS start
)
SELECT b.start,
       count(r.id) FILTER (WHERE r.status = 'passed') AS passed,
       count(r.id) FILTER (WHERE r.status = 'failed') AS failed,
       count(r.id) FILTER (WHERE r.status = 'error') AS error,
       count(r.id) FILTER (WHERE r.status = 'cancelled') AS cancelled
FROM buckets b
LEFT JOIN runs r ON r.queue = $1 AND r.finished_at >= b.start
                AND r.finished_at < b.start + make_interval(secs => $3)
GROUP BY b.start
ORDER BY b.start;

-- name: insert_recording
INSERT INTO recordings (id, name, format, script, step_count, priority) VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *, NULL::uuid AS last_run_id, NULL::run_status AS last_run_status, NULL::bigint AS last_run_number;

-- name: list_recordings
-- Recordings are shared by every queue; their last run is the last one on the reader's queue ($1).
SELECT rec.*, last.id AS last_run_id, last.status AS last_run_status, last.number AS last_run_number
FROM recordings rec
LEFT JOIN LATERAL (SELECT id, status, number FROM runs WHERE recording_id = rec.id AND queue = $1
                   ORDER BY number DESC LIMIT 1) last ON true
WHERE ($4::text IS NULL OR rec.name = $4)
ORDER BY rec.created_at DESC, rec.id
LIMIT $2 OFFSET $3;

-- name: count_recordings
-- $1: only recordings of exactly this name (NULL: all).
SELECT count(*) FROM recordings WHERE ($1::text IS NULL OR name = $1);

-- name: get_recording
SELECT rec.*, last.id AS last_run_id, last.status AS last_run_status, last.number AS last_run_number
FROM recordings rec
LEFT JOIN LATERAL (SELECT id, status, number FROM runs WHERE recording_id = rec.id AND queue = $1
                   ORDER BY number DESC LIMIT 1) last ON true
WHERE rec.id = $2;

-- name: lock_recording
-- Held until a recording's deletion commits: a schedule made for it meanwhile waits, then finds it gone.
SELECT name FROM recordings WHERE id = $1 FOR UPDATE;

-- name: stop_recording_schedules
-- Every queue's schedules of a recording being deleted: stopped for good, with the reason ($2).
UPDATE schedules SET state = 'stopped', stopped_reason = $2, updated_at = now()
WHERE recording_id = $1 AND state <> 'stopped'
RETURNING id, queue;

-- name: delete_recording
DELETE FROM recordings WHERE id = $1 RETURNING id;

-- Retention (storage/retention.py). Two passes may run at once: each claims its batch with FOR UPDATE SKIP
-- LOCKED inside a transaction, so no artifact or run is taken by both; what a pass claimed and did not finish
-- (the store refused) is rolled back and left for the next pass.

-- name: claim_expired_artifacts
-- A batch of one rule's expired artifacts still in the store: runs of the queue in the rule's statuses ($2)
-- finished more than $3 seconds ago, artifacts of the rule's kinds ($4).
SELECT a.id, a.kind, a.storage_key, a.size_bytes
FROM run_artifacts a
JOIN runs r ON r.id = a.run_id
WHERE r.queue = $1
  AND r.status = ANY($2::run_status[])
  AND r.finished_at < now() - make_interval(secs => $3)
  AND a.kind = ANY($4::text[])
  AND a.removed_at IS NULL
LIMIT $5
FOR UPDATE OF a SKIP LOCKED;

-- name: mark_artifacts_removed
UPDATE run_artifacts SET removed_at = now(), removed_by = $2
WHERE id = ANY($1::bigint[]) AND removed_at IS NULL;

-- name: claim_expired_runs
-- A batch of final runs ($2) of the queue finished more than $3 seconds ago.
SELECT id FROM runs
WHERE queue = $1 AND status = ANY($2::run_status[]) AND finished_at < now() - make_interval(secs => $3)
ORDER BY finished_at, id
LIMIT $4
FOR UPDATE SKIP LOCKED;

-- name: lock_run_artifacts
-- The artifacts still in the store of runs this pass is removing. Not SKIP LOCKED: an artifact another pass
-- is removing right now is waited for, and then no longer matches (removed_at is set).
SELECT id, kind, storage_key, size_bytes FROM run_artifacts
WHERE run_id = ANY($1::uuid[]) AND removed_at IS NULL
ORDER BY id
FOR UPDATE;

-- name: delete_runs
-- Their attempts, steps and artifact rows go with them (ON DELETE CASCADE).
DELETE FROM runs WHERE queue = $1 AND id = ANY($2::uuid[]);

-- name: preview_expired_runs
SELECT count(*) FROM runs
WHERE queue = $1 AND status = ANY($2::run_status[]) AND finished_at < now() - make_interval(secs => $3);

-- name: preview_expired_run_artifacts
-- What removing those runs would delete from the store, by kind.
SELECT a.kind, count(*) AS artifacts, coalesce(sum(a.size_bytes), 0)::bigint AS bytes
FROM run_artifacts a
JOIN runs r ON r.id = a.run_id
WHERE r.queue = $1 AND r.status = ANY($2::run_status[]) AND r.finished_at < now() - make_interval(secs => $3)
  AND a.removed_at IS NULL
GROUP BY a.kind;

-- name: preview_expired_artifacts
-- What one artifact rule would remove, leaving out the runs that go whole ($5: the runs' rule, or null).
SELECT count(*) AS artifacts, coalesce(sum(a.size_bytes), 0)::bigint AS bytes
FROM run_artifacts a
JOIN runs r ON r.id = a.run_id
WHERE r.queue = $1
  AND r.status = ANY($2::run_status[])
  AND r.finished_at < now() - make_interval(secs => $3)
  AND a.kind = ANY($4::text[])
  AND a.removed_at IS NULL
  AND ($5::float8 IS NULL OR r.finished_at >= now() - make_interval(secs => $5::float8));

-- name: insert_retention_pass
INSERT INTO retention_passes (queue, worker, job_id, dry_run) VALUES ($1, $2, $3, $4)
RETURNING *;

-- name: record_retention_progress
-- Written in each batch's own transaction: the record counts exactly the batches that were committed.
UPDATE retention_passes SET artifacts_removed = $2, runs_removed = $3, bytes_freed = $4, groups = $5
WHERE id = $1;

-- name: finish_retention_pass
UPDATE retention_passes SET finished_at = now(), error = $2 WHERE id = $1
RETURNING *;

-- name: last_retention_pass
-- The queue's last pass that deleted (not a dry run) and ended.
SELECT * FROM retention_passes
WHERE queue = $1 AND NOT dry_run AND finished_at IS NOT NULL
ORDER BY finished_at DESC, id DESC
LIMIT 1;

-- name: artifact_usage
-- The queue's artifacts still in the store, by kind and by their run's status.
SELECT a.kind, r.status, count(*) AS artifacts, coalesce(sum(a.size_bytes), 0)::bigint AS bytes
FROM run_artifacts a
JOIN runs r ON r.id = a.run_id
WHERE r.queue = $1 AND a.removed_at IS NULL
GROUP BY a.kind, r.status
ORDER BY a.kind, r.status;

-- name: artifact_growth
-- What the queue's runs stored per UTC day over the last $2 days (today included), every day present, oldest
-- first; an artifact removed since still counts on the day it was stored.
WITH days AS (
    SELECT day::date AS day
    FROM generate_series((now() AT TIME ZONE 'UTC')::date - ($2::integer - 1),
                         (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS day
)
SELECT d.day, count(a.id) AS artifacts, coalesce(sum(a.size_bytes), 0)::bigint AS bytes
FROM days d
LEFT JOIN (run_artifacts a JOIN runs r ON r.id = a.run_id AND r.queue = $1)
       ON a.created_at >= d.day::timestamp AT TIME ZONE 'UTC'
      AND a.created_at < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
GROUP BY d.day
ORDER BY d.day;

-- Run metrics (storage/run_metrics.py; counters kept by the trigger of migration 0008): a scrape reads these
-- few rows, never the runs table.

-- name: runs_finished_totals
SELECT status, category, runs FROM metric_runs_finished WHERE queue = $1 ORDER BY status, category;

-- name: run_duration_buckets
-- Every bucket of the histogram, in order, with the queue's runs in it (not cumulative) and their seconds.
SELECT b.le, coalesce(d.runs, 0)::bigint AS runs, coalesce(d.seconds, 0)::float8 AS seconds
FROM metric_run_duration_bounds b
LEFT JOIN metric_run_durations d ON d.le = b.le AND d.queue = $1
ORDER BY b.le;

-- name: insert_api_key
INSERT INTO api_keys (id, name, scope, hash) VALUES ($1, $2, $3, $4)
RETURNING id, name, scope, created_at, last_used_at, revoked_at;

-- name: use_api_key
-- Checks a key and notes its use at once: no row for an unknown, revoked or mismatched key.
UPDATE api_keys SET last_used_at = now()
WHERE id = $1 AND hash = $2 AND revoked_at IS NULL
RETURNING id, name, scope, created_at, last_used_at, revoked_at;

-- name: get_live_api_key
SELECT id, name, scope, created_at, last_used_at, revoked_at FROM api_keys WHERE id = $1 AND revoked_at IS NULL;

-- name: list_api_keys
SELECT id, name, scope, created_at, last_used_at, revoked_at FROM api_keys ORDER BY created_at, id;

-- name: revoke_api_key
-- By id or by name (of a key not revoked yet); sessions and login links of the key go with it.
WITH revoked AS (
    UPDATE api_keys SET revoked_at = now()
    WHERE revoked_at IS NULL AND (id = $1 OR name = $1)
    RETURNING id, name, scope, created_at, last_used_at, revoked_at
), sessions AS (
    DELETE FROM dashboard_sessions WHERE key_id IN (SELECT id FROM revoked)
), tokens AS (
    DELETE FROM login_tokens WHERE key_id IN (SELECT id FROM revoked)
)
SELECT * FROM revoked;

-- name: insert_login_token
INSERT INTO login_tokens (hash, key_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3));

-- name: use_login_token
-- One use: the token is deleted as it is exchanged.
DELETE FROM login_tokens t USING api_keys k
WHERE t.hash = $1 AND k.id = t.key_id
RETURNING k.id, k.name, k.scope, t.expires_at > now() AND k.revoked_at IS NULL AS valid;

-- name: insert_session
-- Expired sessions and login links are cleared as new sessions open.
WITH expired_sessions AS (
    DELETE FROM dashboard_sessions WHERE expires_at < now()
), expired_tokens AS (
    DELETE FROM login_tokens WHERE expires_at < now()
)
INSERT INTO dashboard_sessions (hash, key_id, csrf_token, expires_at)
VALUES ($1, $2, $3, now() + make_interval(secs => $4));

-- name: get_session
SELECT k.id, k.name, k.scope, s.csrf_token FROM dashboard_sessions s JOIN api_keys k ON k.id = s.key_id
WHERE s.hash = $1 AND s.expires_at > now() AND k.revoked_at IS NULL;

-- name: delete_session
DELETE FROM dashboard_sessions WHERE hash = $1 OR expires_at < now();

-- name: insert_queue_action
INSERT INTO queue_actions (queue, action, actor) VALUES ($1, $2, $3) RETURNING at;

-- name: last_queue_action
SELECT action, actor, at FROM queue_actions WHERE queue = $1 ORDER BY id DESC LIMIT 1;

-- Schedules (storage/schedules.py), each scoped to one queue ($1) as runs are. A schedule's last run is its
-- newest on that queue.

-- name: insert_schedule
INSERT INTO schedules (queue, id, name, recording_id, recording_name, cron, timezone, every_ms, options,
                       skip_if_running, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING id;

-- name: get_schedule
SELECT s.*, rec.priority AS recording_priority,
       last.id AS last_run_id, last.number AS last_run_number, last.status AS last_run_status
FROM schedules s
LEFT JOIN recordings rec ON rec.id = s.recording_id
LEFT JOIN LATERAL (SELECT id, number, status FROM runs WHERE schedule_id = s.id AND queue = s.queue
                   ORDER BY number DESC LIMIT 1) last ON true
WHERE s.queue = $1 AND s.id = $2;

-- name: list_schedules
SELECT s.*, rec.priority AS recording_priority,
       last.id AS last_run_id, last.number AS last_run_number, last.status AS last_run_status
FROM schedules s
LEFT JOIN recordings rec ON rec.id = s.recording_id
LEFT JOIN LATERAL (SELECT id, number, status FROM runs WHERE schedule_id = s.id AND queue = s.queue
                   ORDER BY number DESC LIMIT 1) last ON true
WHERE s.queue = $1
ORDER BY s.created_at DESC, s.id
LIMIT $2 OFFSET $3;

-- name: count_schedules
SELECT count(*) FROM schedules WHERE queue = $1;

-- name: update_schedule
-- A stopped schedule stays as it is (its recording is gone); the caller reads it again to say so.
UPDATE schedules
SET name = $3, cron = $4, timezone = $5, every_ms = $6, options = $7, skip_if_running = $8, updated_at = now()
WHERE queue = $1 AND id = $2 AND state <> 'stopped'
RETURNING id;

-- name: set_schedule_state
-- Pause or resume: only between active and paused ($4: the states it may be in now); stopped is final.
UPDATE schedules SET state = $3, updated_at = now()
WHERE queue = $1 AND id = $2 AND state = ANY($4::schedule_state[])
RETURNING id;

-- name: delete_schedule
DELETE FROM schedules WHERE queue = $1 AND id = $2 RETURNING id;

-- name: lock_schedule_for_tick
-- One tick of a schedule at a time: its row is locked until the tick's run is recorded (or the tick skipped),
-- so two ticks never both find "nothing running" and both make a run. The recording comes along.
SELECT s.id, s.name, s.state, s.recording_id, s.recording_name, s.options, s.skip_if_running,
       rec.script AS recording_script, rec.priority AS recording_priority
FROM schedules s
LEFT JOIN recordings rec ON rec.id = s.recording_id
WHERE s.queue = $1 AND s.id = $2
FOR UPDATE OF s;

-- name: unfinished_schedule_run
-- The schedule's oldest run still queued or running, if any.
SELECT number FROM runs
WHERE queue = $1 AND schedule_id = $2 AND status IN ('queued', 'running')
ORDER BY number LIMIT 1;

-- name: count_schedule_run
UPDATE schedules SET runs_made = runs_made + 1, last_tick_at = now() WHERE id = $1;

-- name: count_skipped_tick
UPDATE schedules SET ticks_skipped = ticks_skipped + 1, last_tick_at = now(), last_skip_reason = $2 WHERE id = $1;

-- name: stop_schedule
UPDATE schedules SET state = 'stopped', stopped_reason = $3, updated_at = now()
WHERE queue = $1 AND id = $2 AND state <> 'stopped';

-- Suites (migration 0015): a named set of saved recordings; suite runs and their child runs, scoped to a queue.

-- name: insert_suite
-- Nothing is inserted (no row returned) when the name is taken.
INSERT INTO suites (id, name, defaults, created_by) VALUES ($1, $2, $3, $4)
ON CONFLICT (name) DO NOTHING
RETURNING id;

-- name: missing_recordings
-- Which of the ids ($1) name no saved recording.
SELECT wanted.id FROM unnest($1::uuid[]) AS wanted (id)
WHERE NOT EXISTS (SELECT 1 FROM recordings WHERE recordings.id = wanted.id);

-- name: set_suite_recordings
-- The suite's recordings, in order, replacing what it had (the caller deleted them in the same transaction).
INSERT INTO suite_recordings (suite_id, recording_id, position)
SELECT $1, chosen.id, chosen.position FROM unnest($2::uuid[]) WITH ORDINALITY AS chosen (id, position);

-- name: clear_suite_recordings
DELETE FROM suite_recordings WHERE suite_id = $1;

-- name: get_suite
-- A suite with its recordings in order, and its last run on this queue ($1).
SELECT s.*,
       coalesce((SELECT array_agg(recording_id ORDER BY position) FROM suite_recordings WHERE suite_id = s.id),
                '{}'::uuid[]) AS recording_ids,
       last.id AS last_run_id, last.status AS last_run_status, last.number AS last_run_number
FROM suites s
LEFT JOIN LATERAL (SELECT id, status, number FROM suite_runs WHERE suite_id = s.id AND queue = $1
                   ORDER BY number DESC LIMIT 1) last ON true
WHERE s.id = $2;

-- name: list_suites
-- By name; $2: only the suite with exactly this name.
SELECT s.*,
       coalesce((SELECT array_agg(recording_id ORDER BY position) FROM suite_recordings WHERE suite_id = s.id),
                '{}'::uuid[]) AS recording_ids,
       last.id AS last_run_id, last.status AS last_run_status, last.number AS last_run_number
FROM suites s
LEFT JOIN LATERAL (SELECT id, status, number FROM suite_runs WHERE suite_id = s.id AND queue = $1
                   ORDER BY number DESC LIMIT 1) last ON true
WHERE ($2::text IS NULL OR s.name = $2)
ORDER BY s.name
LIMIT $3 OFFSET $4;

-- name: count_suites
SELECT count(*) FROM suites WHERE ($1::text IS NULL OR name = $1);

-- name: update_suite
-- NULL leaves a field as it was. No row: no such suite; a unique violation: the new name is taken.
UPDATE suites SET name = coalesce($2, name), defaults = coalesce($3, defaults), updated_at = now()
WHERE id = $1
RETURNING id;

-- name: delete_suite
-- Its suite runs stay (suite_id NULL, with the name they were made under).
DELETE FROM suites WHERE id = $1 RETURNING id;

-- name: suite_recordings_to_run
-- The recordings a suite run is made of, in the suite's order, held until the run's rows commit.
SELECT rec.id, rec.name, rec.script, rec.priority
FROM suite_recordings sr JOIN recordings rec ON rec.id = sr.recording_id
WHERE sr.suite_id = $1
ORDER BY sr.position
FOR SHARE OF rec;

-- name: insert_suite_run
INSERT INTO suite_runs (queue, id, suite_id, suite_name, options, queued_by) VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id;

-- name: insert_suite_children
-- A suite run's children in one statement, numbered in the suite's order ($2..$8 arrays, one element per run, JSON
-- as text as in insert_runs; $9, $10 the whole suite run's).
INSERT INTO runs (queue, id, name, script_format, script, options, import_warnings, recording_id, queued_by,
                  suite_run_id)
SELECT $1, child.id, child.name, child.script_format, child.script::jsonb, child.options::jsonb,
       child.import_warnings::jsonb, child.recording_id, $9, $10
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[])
     WITH ORDINALITY AS child (id, name, script_format, script, options, import_warnings, recording_id, position)
ORDER BY child.position
RETURNING *;

-- name: get_suite_run
-- A suite run as it stands: `running` once a child has left `queued` (never written), its children's counts by
-- status now (the stored counts are what was decided), when the first child started and how many there are.
SELECT sr.*,
       CASE WHEN sr.status = 'queued' AND children.started_at IS NOT NULL THEN 'running'
            ELSE sr.status::text END AS current_status,
       children.total, children.started_at, children.live_passed, children.live_failed, children.live_error,
       children.live_cancelled, children.live_quarantined
FROM suite_runs sr
CROSS JOIN LATERAL (
    SELECT count(*) AS total, min(started_at) AS started_at,
           count(*) FILTER (WHERE status = 'passed') AS live_passed,
           count(*) FILTER (WHERE status = 'failed' AND NOT quarantined) AS live_failed,
           count(*) FILTER (WHERE status = 'error' AND NOT quarantined) AS live_error,
           count(*) FILTER (WHERE status = 'cancelled') AS live_cancelled,
           count(*) FILTER (WHERE status IN ('failed', 'error') AND quarantined) AS live_quarantined
    FROM runs WHERE suite_run_id = sr.id) children
WHERE sr.queue = $1 AND sr.id = $2;

-- name: list_suite_runs
-- Newest first; $2: only this suite's.
SELECT sr.*,
       CASE WHEN sr.status = 'queued' AND children.started_at IS NOT NULL THEN 'running'
            ELSE sr.status::text END AS current_status,
       children.total, children.started_at, children.live_passed, children.live_failed, children.live_error,
       children.live_cancelled, children.live_quarantined
FROM suite_runs sr
CROSS JOIN LATERAL (
    SELECT count(*) AS total, min(started_at) AS started_at,
           count(*) FILTER (WHERE status = 'passed') AS live_passed,
           count(*) FILTER (WHERE status = 'failed' AND NOT quarantined) AS live_failed,
           count(*) FILTER (WHERE status = 'error' AND NOT quarantined) AS live_error,
           count(*) FILTER (WHERE status = 'cancelled') AS live_cancelled,
           count(*) FILTER (WHERE status IN ('failed', 'error') AND quarantined) AS live_quarantined
    FROM runs WHERE suite_run_id = sr.id) children
WHERE sr.queue = $1 AND ($2::uuid IS NULL OR sr.suite_id = $2)
ORDER BY sr.number DESC
LIMIT $3 OFFSET $4;

-- name: count_suite_runs
SELECT count(*) FROM suite_runs WHERE queue = $1 AND ($2::uuid IS NULL OR suite_id = $2);

-- name: suite_run_children
-- Every column but `script`, as list_runs.
SELECT id, queue, number, name, script_format, '{}'::jsonb AS script, options, status, attempts, worker_name,
       error, error_category, idempotency_key, retry_of, recording_id, import_warnings, actions_executed,
       duration_ms, created_at, started_at, finished_at, artifacts_skipped, job_id, schedule_id, queued_by,
       cancelled_by, suite_run_id, flaky, quarantined
FROM runs
WHERE queue = $1 AND suite_run_id = $2
ORDER BY number;

-- name: lock_suite_run
-- Held while its result is decided: two deciders (a stalled parent job taken twice) take turns.
SELECT status, cancel_requested FROM suite_runs WHERE queue = $1 AND id = $2 FOR UPDATE;

-- name: suite_children_by_status
-- quarantined: a failed or error child whose recording was quarantined when it ended (counted apart, migration 0018).
SELECT status, quarantined AND status IN ('failed', 'error') AS quarantined, count(*) AS runs
FROM runs WHERE suite_run_id = $1 GROUP BY 1, 2;

-- name: finish_suite_run
-- The suite's result, written once: a suite run already final is left as it was (no row).
UPDATE suite_runs SET status = $3::suite_run_status, passed = $4, failed = $5, error = $6, cancelled = $7,
                      quarantined = $8, finished_at = now()
WHERE queue = $1 AND id = $2 AND status IN ('queued', 'running')
RETURNING id;

-- name: request_suite_cancel
-- No row: no such suite run here, or it is final already.
UPDATE suite_runs SET cancel_requested = true
WHERE queue = $1 AND id = $2 AND status IN ('queued', 'running')
RETURNING id;

-- name: suite_run_exists
SELECT status FROM suite_runs WHERE queue = $1 AND id = $2;

-- name: overdue_suite_runs
-- Suite runs not decided though every child has been final for $2 seconds: their parent job was lost (a Redis
-- restart without persistence) or is late; the caller decides them (idempotent: finish_suite_run).
SELECT sr.id FROM suite_runs sr
WHERE sr.queue = $1 AND sr.status IN ('queued', 'running')
  AND NOT EXISTS (SELECT 1 FROM runs WHERE suite_run_id = sr.id AND status IN ('queued', 'running'))
  AND (SELECT max(finished_at) FROM runs WHERE suite_run_id = sr.id) <= now() - make_interval(secs => $2)
ORDER BY sr.number
LIMIT 100;

-- Run history of a saved recording (storage/history.py), scoped to one queue ($1) as every run query is: the
-- recording's ($2) runs created in the window, the last $3 days of 24 hours (whatever the server's time zone).
-- Both statements run in one transaction, so now() (the window's end) is the same for both.

-- name: recording_history_summary
-- Counts by status, the pass rate (passed among the runs that ended with a verdict, $4 = passed, $5 = the verdict
-- statuses; null when there is none) and the median duration of the runs that finished (ms; null when none did).
WITH window_runs AS (
    SELECT status, duration_ms, finished_at FROM runs
    WHERE queue = $1 AND recording_id = $2 AND created_at >= now() - make_interval(hours => $3 * 24)
)
SELECT now() - make_interval(hours => $3 * 24) AS window_from, now() AS window_to,
       (SELECT coalesce(jsonb_object_agg(status, runs), '{}'::jsonb)
        FROM (SELECT status, count(*) AS runs FROM window_runs GROUP BY status) counted) AS counts,
       (SELECT count(*) FILTER (WHERE status = $4::run_status)::float8
               / nullif(count(*) FILTER (WHERE status = ANY($5::run_status[])), 0)
        FROM window_runs) AS pass_rate,
       (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)
        FROM window_runs WHERE finished_at IS NOT NULL AND duration_ms IS NOT NULL) AS median_duration_ms;

-- name: recording_history_runs
-- The newest $4 runs of the window, each with the first step of its latest attempt that ended $5 (failed), if any.
SELECT r.id, r.number, r.status, r.error, r.error_category, r.attempts, r.created_at, r.finished_at, r.duration_ms,
       failing.step_index AS failing_index, failing.step_type AS failing_type, failing.selector AS failing_selector,
       failing.error AS failing_error
FROM runs r
LEFT JOIN LATERAL (SELECT s.step_index, s.step_type, s.selector, s.error FROM run_steps s
                   WHERE s.run_id = r.id AND s.attempt = r.attempts AND s.status = $5::step_status
                   ORDER BY s.step_index LIMIT 1) failing ON true
WHERE r.queue = $1 AND r.recording_id = $2 AND r.created_at >= now() - make_interval(hours => $3 * 24)
ORDER BY r.number DESC
LIMIT $4;

-- Webhooks (storage/webhooks.py, migration 0016): subscriptions and their deliveries, each scoped to one queue ($1).

-- name: insert_webhook_subscription
INSERT INTO webhook_subscriptions (queue, id, name, url, events, scope, suite_id, recording_id, format, secret,
                                   active, created_by)
VALUES ($1, $2, $3, $4, $5::webhook_event[], $6, $7, $8, $9, $10, $11, $12)
RETURNING id;

-- name: get_webhook_subscription
SELECT s.*, last.status AS last_delivery_status, last.created_at AS last_delivery_at
FROM webhook_subscriptions s
LEFT JOIN LATERAL (SELECT status, created_at FROM webhook_deliveries WHERE subscription_id = s.id
                   ORDER BY created_at DESC, id LIMIT 1) last ON true
WHERE s.queue = $1 AND s.id = $2;

-- name: list_webhook_subscriptions
SELECT s.*, last.status AS last_delivery_status, last.created_at AS last_delivery_at
FROM webhook_subscriptions s
LEFT JOIN LATERAL (SELECT status, created_at FROM webhook_deliveries WHERE subscription_id = s.id
                   ORDER BY created_at DESC, id LIMIT 1) last ON true
WHERE s.queue = $1
ORDER BY s.created_at DESC, s.id
LIMIT $2 OFFSET $3;

-- name: count_webhook_subscriptions
SELECT count(*) FROM webhook_subscriptions WHERE queue = $1;

-- name: update_webhook_subscription
UPDATE webhook_subscriptions
SET name = $3, url = $4, events = $5::webhook_event[], format = $6, active = $7, updated_at = now()
WHERE queue = $1 AND id = $2
RETURNING id;

-- name: delete_webhook_subscription
DELETE FROM webhook_subscriptions WHERE queue = $1 AND id = $2 RETURNING id;

-- name: list_webhook_deliveries
-- A subscription's deliveries, newest first.
SELECT * FROM webhook_deliveries WHERE queue = $1 AND subscription_id = $2
ORDER BY created_at DESC, id
LIMIT $3 OFFSET $4;

-- name: count_webhook_deliveries
SELECT count(*) FROM webhook_deliveries WHERE queue = $1 AND subscription_id = $2;

-- name: list_webhook_attempts
SELECT * FROM webhook_delivery_attempts WHERE delivery_id = ANY($1::uuid[]) ORDER BY delivery_id, attempt;

-- name: get_webhook_delivery
SELECT * FROM webhook_deliveries WHERE queue = $1 AND id = $2;

-- name: insert_webhook_redelivery
-- The same event for the same subscription and the same run or suite run, as a new delivery (its payload is built
-- again at send time).
INSERT INTO webhook_deliveries (subscription_id, queue, event, run_id, suite_run_id, redelivery_of)
SELECT subscription_id, queue, event, run_id, suite_run_id, id FROM webhook_deliveries WHERE queue = $1 AND id = $2
RETURNING *;

-- name: insert_webhook_ping
INSERT INTO webhook_deliveries (subscription_id, queue, event)
SELECT id, queue, 'ping' FROM webhook_subscriptions WHERE queue = $1 AND id = $2
RETURNING *;

-- name: claim_webhook_outbox
-- Deliveries whose job was never added, or added more than $2 seconds ago and not finished (added again: the same
-- job id is a no-op while the job exists), marked added now; other workers skip the rows locked here.
UPDATE webhook_deliveries d SET enqueued_at = now()
WHERE d.id IN (SELECT id FROM webhook_deliveries
               WHERE queue = $1 AND status IN ('pending', 'delivering')
                 AND (enqueued_at IS NULL OR enqueued_at < now() - make_interval(secs => $2::double precision))
               ORDER BY created_at
               LIMIT $3
               FOR UPDATE SKIP LOCKED)
RETURNING d.id;

-- name: start_webhook_attempt
-- One more attempt of a delivery not yet final, with what sending it needs; no row: gone or final already. The
-- attempt's row is written now (its answer by record_webhook_attempt), so an attempt whose worker died before the
-- answer stays in the log, marked interrupted when the next one starts.
WITH started AS (
    UPDATE webhook_deliveries SET status = 'delivering', attempts = attempts + 1, last_attempt_at = now()
    WHERE queue = $1 AND id = $2 AND status IN ('pending', 'delivering')
    RETURNING *
), interrupted AS (
    UPDATE webhook_delivery_attempts
    SET error = 'interrupted: its worker stopped before the answer was recorded'
    WHERE delivery_id = (SELECT id FROM started) AND status_code IS NULL AND latency_ms IS NULL AND error IS NULL
), attempt AS (
    INSERT INTO webhook_delivery_attempts (delivery_id, attempt, started_at)
    SELECT id, attempts, now() FROM started
    ON CONFLICT (delivery_id, attempt) DO NOTHING
)
SELECT started.id, started.event, started.run_id, started.suite_run_id, started.attempts, started.created_at,
       s.id AS subscription_id, s.name AS subscription_name, s.url, s.format, s.secret
FROM started JOIN webhook_subscriptions s ON s.id = started.subscription_id;

-- name: record_webhook_attempt
UPDATE webhook_delivery_attempts
SET started_at = $3, status_code = $4, latency_ms = $5, error = $6, response_excerpt = $7
WHERE delivery_id = $1 AND attempt = $2;

-- name: settle_webhook_delivery
-- After an attempt: delivered, failed (final) or pending again (the next attempt at $6).
UPDATE webhook_deliveries
SET status = $3::webhook_delivery_status, last_status_code = $4, last_error = $5, next_attempt_at = $6,
    finished_at = CASE WHEN $3::webhook_delivery_status IN ('delivered', 'failed') THEN now() END
WHERE queue = $1 AND id = $2 AND status IN ('pending', 'delivering');

-- name: webhook_run_facts
-- A run as its webhook payload tells it: its latest attempt's first failed step, the screenshot of that step (else
-- the attempt's last screenshot) and its video, while their files are there.
SELECT r.id, r.number, r.name, r.status::text AS status, r.duration_ms, r.error, r.error_category, r.recording_id,
       r.suite_run_id, r.worker_name, r.finished_at, r.flaky, r.quarantined,
       step.step_index AS step_index, step.step_type AS step_type, step.selector AS step_selector,
       step.error AS step_error,
       (SELECT a.id FROM run_artifacts a
        WHERE a.run_id = r.id AND a.attempt = r.attempts AND a.kind = 'screenshot' AND a.removed_at IS NULL
        ORDER BY (a.step_index IS NOT DISTINCT FROM step.step_index) DESC, a.step_index DESC NULLS LAST, a.id DESC
        LIMIT 1) AS screenshot_artifact_id,
       (SELECT a.id FROM run_artifacts a
        WHERE a.run_id = r.id AND a.attempt = r.attempts AND a.kind = 'video' AND a.removed_at IS NULL
        ORDER BY a.id LIMIT 1) AS video_artifact_id
FROM runs r
LEFT JOIN LATERAL (SELECT step_index, step_type, selector, error FROM run_steps
                   WHERE run_id = r.id AND attempt = r.attempts AND status = 'failed'
                   ORDER BY step_index LIMIT 1) step ON true
WHERE r.queue = $1 AND r.id = $2;

-- name: webhook_suite_run_children
-- The runs of a suite run, told as webhook_run_facts tells one.
SELECT r.id, r.number, r.name, r.status::text AS status, r.duration_ms, r.error, r.error_category, r.recording_id,
       r.suite_run_id, r.worker_name, r.finished_at, r.flaky, r.quarantined,
       step.step_index AS step_index, step.step_type AS step_type, step.selector AS step_selector,
       step.error AS step_error,
       (SELECT a.id FROM run_artifacts a
        WHERE a.run_id = r.id AND a.attempt = r.attempts AND a.kind = 'screenshot' AND a.removed_at IS NULL
        ORDER BY (a.step_index IS NOT DISTINCT FROM step.step_index) DESC, a.step_index DESC NULLS LAST, a.id DESC
        LIMIT 1) AS screenshot_artifact_id,
       (SELECT a.id FROM run_artifacts a
        WHERE a.run_id = r.id AND a.attempt = r.attempts AND a.kind = 'video' AND a.removed_at IS NULL
        ORDER BY a.id LIMIT 1) AS video_artifact_id
FROM runs r
LEFT JOIN LATERAL (SELECT step_index, step_type, selector, error FROM run_steps
                   WHERE run_id = r.id AND attempt = r.attempts AND status = 'failed'
                   ORDER BY step_index LIMIT 1) step ON true
WHERE r.queue = $1 AND r.suite_run_id = $2
ORDER BY r.number;

-- name: webhook_suite_run_facts
-- started_at: when its first run started (as get_suite_run reads it).
SELECT sr.id, sr.number, sr.suite_id, sr.suite_name, sr.status::text AS status, sr.passed, sr.failed, sr.error,
       sr.cancelled, sr.quarantined, sr.created_at, (SELECT min(started_at) FROM runs WHERE suite_run_id = sr.id) AS started_at,
       sr.finished_at
FROM suite_runs sr WHERE sr.queue = $1 AND sr.id = $2;

-- name: notify_webhook_outbox
-- Wake the workers' outbox pumps (the triggers do the same for the deliveries they insert).
SELECT pg_notify('reprise_webhooks', $1);

-- Flaky runs and quarantine (storage/flaky.py, migration 0018), scoped to one queue ($1) as every run query is.

-- name: flaky_window_runs
-- Each recording's last $2 runs on the queue that passed or failed, newest first ($3: only this recording; NULL: every
-- recording with such runs).
SELECT r.recording_id, r.id, r.number, r.status, r.flaky, r.quarantined, r.options->>'baseUrl' AS base_url
FROM recordings rec
CROSS JOIN LATERAL (SELECT id, number, status, flaky, quarantined, options, recording_id FROM runs
                    WHERE queue = $1 AND recording_id = rec.id AND status IN ('passed', 'failed')
                    ORDER BY number DESC LIMIT $2) r
WHERE ($3::uuid IS NULL OR rec.id = $3)
ORDER BY r.recording_id, r.number DESC;

-- name: flaky_recordings
-- The recordings the Flaky view lists: those with a passed or failed run on the queue, and every quarantined one.
SELECT rec.id, rec.name, rec.quarantined_at, rec.quarantine_reason, rec.quarantined_by
FROM recordings rec
WHERE rec.quarantined_at IS NOT NULL
   OR EXISTS (SELECT 1 FROM runs WHERE queue = $1 AND recording_id = rec.id AND status IN ('passed', 'failed'));

-- name: recording_script
SELECT script FROM recordings WHERE id = $1;

-- name: quarantine_recording
-- By hand: quarantined now with the reason, or its reason replaced when it is already.
UPDATE recordings SET quarantined_at = coalesce(quarantined_at, now()), quarantine_reason = $2, quarantined_by = $3
WHERE id = $1
RETURNING id;

-- name: quarantine_recording_automatically
-- Only a recording not quarantined yet (a quarantine by hand keeps its reason).
UPDATE recordings SET quarantined_at = now(), quarantine_reason = $2, quarantined_by = $3
WHERE id = $1 AND quarantined_at IS NULL
RETURNING id;

-- name: unquarantine_recording
UPDATE recordings SET quarantined_at = NULL, quarantine_reason = NULL, quarantined_by = NULL
WHERE id = $1
RETURNING id;

-- ---- visual baselines (migration 0019) ----

-- name: list_baselines
-- A saved recording's approved baselines, by step and viewport key.
SELECT id, recording_id, step_index, viewport_key, storage_key, width, height, size_bytes, run_id, approved_by,
       approved_at
FROM visual_baselines WHERE recording_id = $1 ORDER BY step_index, viewport_key;

-- name: get_baseline
SELECT id, recording_id, step_index, viewport_key, storage_key, width, height, size_bytes, run_id, approved_by,
       approved_at
FROM visual_baselines WHERE recording_id = $1 AND id = $2;

-- name: approve_baseline
-- The baseline of ($1 recording, $2 step, $3 viewport key) becomes the image now at $4; returns it and the storage
-- key it replaced (null when there was none), so that the caller removes the old image. (`previous` reads the
-- statement's snapshot: the row before the upsert. No FOR UPDATE: a row this same statement updates is skipped.)
WITH previous AS (
    SELECT storage_key FROM visual_baselines WHERE recording_id = $1 AND step_index = $2 AND viewport_key = $3
), saved AS (
    INSERT INTO visual_baselines (recording_id, step_index, viewport_key, storage_key, width, height, size_bytes,
                                  run_id, approved_by)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (recording_id, step_index, viewport_key) DO UPDATE
        SET storage_key = EXCLUDED.storage_key, width = EXCLUDED.width, height = EXCLUDED.height,
            size_bytes = EXCLUDED.size_bytes, run_id = EXCLUDED.run_id, approved_by = EXCLUDED.approved_by,
            approved_at = now()
    RETURNING id, recording_id, step_index, viewport_key, storage_key, width, height, size_bytes, run_id,
              approved_by, approved_at
)
SELECT saved.*, (SELECT storage_key FROM previous) AS replaced_key FROM saved;
