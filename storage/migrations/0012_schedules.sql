-- Schedules (docs/schedules.md): a saved recording run on a cron pattern or every N ms. BullMQ's job scheduler
-- `schedule:<id>` on the queue's runs queue fires the ticks; a row here says what each tick runs and whether it
-- may. A schedule belongs to one queue, as runs do: each queue sees only its own.
--
-- The states are contract.schedules.ScheduleState (tests/integration/test_contract_schema.py holds them equal).
-- recording_name is the recording's name when the schedule was made: what a stopped schedule's reason and the
-- list show once the recording is gone.
CREATE TYPE schedule_state AS ENUM ('active', 'paused', 'stopped');

CREATE TABLE schedules (
    id uuid PRIMARY KEY,
    queue text NOT NULL,
    name text NOT NULL,
    recording_id uuid REFERENCES recordings (id) ON DELETE SET NULL,
    recording_name text NOT NULL,
    cron text,
    timezone text,
    every_ms bigint CHECK (every_ms >= 1000),
    options jsonb NOT NULL DEFAULT '{}',
    skip_if_running boolean NOT NULL DEFAULT true,
    state schedule_state NOT NULL DEFAULT 'active',
    stopped_reason text,
    runs_made bigint NOT NULL DEFAULT 0,
    ticks_skipped bigint NOT NULL DEFAULT 0,
    last_tick_at timestamptz,
    last_skip_reason text,
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((cron IS NULL) <> (every_ms IS NULL)),
    CHECK (timezone IS NULL OR cron IS NOT NULL)
);
CREATE INDEX schedules_queue_created_idx ON schedules (queue, created_at DESC);
CREATE INDEX schedules_recording_idx ON schedules (recording_id) WHERE recording_id IS NOT NULL;

-- The schedule a run was made for (NULL: not a schedule's, or the schedule was deleted since).
ALTER TABLE runs ADD COLUMN schedule_id uuid REFERENCES schedules (id) ON DELETE SET NULL;
CREATE INDEX runs_schedule_number_idx ON runs (schedule_id, number DESC) WHERE schedule_id IS NOT NULL;
