-- Webhooks (docs/webhooks.md): subscriptions to run and suite-run events, and a transactional outbox of deliveries.
--
-- A trigger on runs (and one on suite_runs) inserts one delivery per matching active subscription in the same
-- transaction that makes the status final, whoever makes it (a worker, the API's cancel, the orphan sweep): an event
-- is never lost, and never recorded for a change that rolled back. Workers pump the outbox (worker/webhooks.py):
-- NOTIFY `reprise_webhooks` (payload: the queue) wakes them, a poll catches the rest; each delivery becomes a BullMQ
-- job on `<queue>-webhooks` whose id is the delivery's.
--
-- The enums are contract/webhooks.py's (tests/integration/test_webhooks_storage.py holds them equal). A run is final
-- when run_status_transitions has no way out of its status (migration 0006), as for the metrics (0008). This
-- migration needs 0015's suites, suite_runs and runs.suite_run_id.
CREATE TYPE webhook_event AS ENUM ('run.finished', 'run.failed', 'suite.finished', 'ping');
CREATE TYPE webhook_format AS ENUM ('json', 'slack');
CREATE TYPE webhook_delivery_status AS ENUM ('pending', 'delivering', 'delivered', 'failed');

-- One queue's, as runs and schedules are. scope: 'all' (every run and suite run of the queue), 'suite' (suite_id:
-- that suite's suite runs and their child runs), 'recording' (recording_id: that saved recording's runs). The secret
-- signs every delivery (HMAC-SHA256), so it is kept as it is; the API shows it once, at creation.
CREATE TABLE webhook_subscriptions (
    id uuid PRIMARY KEY,
    queue text NOT NULL,
    name text NOT NULL,
    url text NOT NULL,
    events webhook_event[] NOT NULL CHECK (cardinality(events) > 0 AND NOT ('ping' = ANY(events))),
    scope text NOT NULL CHECK (scope IN ('all', 'suite', 'recording')),
    suite_id uuid REFERENCES suites (id) ON DELETE CASCADE,
    recording_id uuid REFERENCES recordings (id) ON DELETE CASCADE,
    format webhook_format NOT NULL DEFAULT 'json',
    secret text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((scope = 'suite') = (suite_id IS NOT NULL)),
    CHECK ((scope = 'recording') = (recording_id IS NOT NULL))
);
CREATE INDEX webhook_subscriptions_queue_idx ON webhook_subscriptions (queue, created_at DESC);

-- One event for one subscription. run_id or suite_run_id says what the payload is built from, at send time (a ping
-- has neither). enqueued_at: when its job was last added (NULL: not yet); a pending delivery whose job was added a
-- while ago is added again (same job id: a no-op while the job exists), so a crash between claiming and adding loses
-- nothing. redelivery_of: the delivery this one sends again (POST /api/webhooks/deliveries/{id}/redeliver).
CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subscription_id uuid NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    queue text NOT NULL,
    event webhook_event NOT NULL,
    run_id uuid REFERENCES runs (id) ON DELETE CASCADE,
    suite_run_id uuid REFERENCES suite_runs (id) ON DELETE CASCADE,
    status webhook_delivery_status NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    enqueued_at timestamptz,
    next_attempt_at timestamptz,
    last_attempt_at timestamptz,
    last_status_code integer,
    last_error text,
    redelivery_of uuid REFERENCES webhook_deliveries (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX webhook_deliveries_subscription_idx ON webhook_deliveries (subscription_id, created_at DESC);
CREATE INDEX webhook_deliveries_outbox_idx ON webhook_deliveries (queue, created_at)
    WHERE status IN ('pending', 'delivering');
CREATE INDEX webhook_deliveries_run_idx ON webhook_deliveries (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX webhook_deliveries_suite_run_idx ON webhook_deliveries (suite_run_id) WHERE suite_run_id IS NOT NULL;

-- Every attempt of a delivery: status_code NULL when no answer came (error says why); the answer's first KiB.
CREATE TABLE webhook_delivery_attempts (
    delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    started_at timestamptz NOT NULL,
    status_code integer,
    latency_ms integer,
    error text,
    response_excerpt text,
    PRIMARY KEY (delivery_id, attempt)
);

-- A run reached a final status: run.finished for every final status, run.failed for failed and error, to each
-- active subscription of its queue whose scope takes it (all; its recording; the suite of its suite run).
CREATE FUNCTION reprise_webhook_run_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    run_suite uuid;
    inserted integer;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM run_status_transitions WHERE from_status = NEW.status) THEN
        RETURN NULL;  -- not final
    END IF;
    IF NEW.suite_run_id IS NOT NULL THEN
        SELECT suite_id INTO run_suite FROM suite_runs WHERE id = NEW.suite_run_id;
    END IF;
    INSERT INTO webhook_deliveries (subscription_id, queue, event, run_id)
    SELECT s.id, NEW.queue, e.event, NEW.id
    FROM webhook_subscriptions s
    CROSS JOIN LATERAL unnest(s.events) AS e (event)
    WHERE s.queue = NEW.queue AND s.active
      AND (e.event = 'run.finished' OR (e.event = 'run.failed' AND NEW.status IN ('failed', 'error')))
      AND (s.scope = 'all'
           OR (s.scope = 'recording' AND s.recording_id = NEW.recording_id)
           OR (s.scope = 'suite' AND s.suite_id = run_suite));
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted > 0 THEN
        PERFORM pg_notify('reprise_webhooks', NEW.queue);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER runs_webhook_events AFTER UPDATE OF status ON runs FOR EACH ROW
    EXECUTE FUNCTION reprise_webhook_run_events();
CREATE TRIGGER runs_webhook_events_inserted_final AFTER INSERT ON runs FOR EACH ROW
    EXECUTE FUNCTION reprise_webhook_run_events();

-- A suite run reached a final status (it does once: 0015's finish_suite_run and its guard trigger): suite.finished to
-- each active subscription of its queue for all runs or for its suite.
CREATE FUNCTION reprise_webhook_suite_run_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    inserted integer;
BEGIN
    IF NEW.status NOT IN ('passed', 'failed', 'error', 'cancelled') THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status IN ('passed', 'failed', 'error', 'cancelled') THEN
        RETURN NULL;  -- already final
    END IF;
    INSERT INTO webhook_deliveries (subscription_id, queue, event, suite_run_id)
    SELECT s.id, NEW.queue, 'suite.finished', NEW.id
    FROM webhook_subscriptions s
    WHERE s.queue = NEW.queue AND s.active AND 'suite.finished' = ANY(s.events)
      AND (s.scope = 'all' OR (s.scope = 'suite' AND s.suite_id = NEW.suite_id));
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted > 0 THEN
        PERFORM pg_notify('reprise_webhooks', NEW.queue);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER suite_runs_webhook_events AFTER UPDATE OF status ON suite_runs FOR EACH ROW
    EXECUTE FUNCTION reprise_webhook_suite_run_events();
CREATE TRIGGER suite_runs_webhook_events_inserted_final AFTER INSERT ON suite_runs FOR EACH ROW
    EXECUTE FUNCTION reprise_webhook_suite_run_events();
