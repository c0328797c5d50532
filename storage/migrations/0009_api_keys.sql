-- API keys (README "Security"): a key is `rk_<id>_<secret>`; only the SHA-256 of the whole key is stored, so a
-- database dump holds no usable key. A revoked key keeps its row (runs name the key that queued them); a name is
-- unique among the keys not revoked, so `reprise keys revoke NAME` is unambiguous.
CREATE TABLE api_keys (
    id text PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    scope text NOT NULL CHECK (scope IN ('read', 'run', 'admin')),
    hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;

-- Dashboard sessions (an HttpOnly cookie holds the session's secret; its SHA-256 is stored) and one-time login
-- links (`reprise dev`): both die with their key.
CREATE TABLE dashboard_sessions (
    hash text PRIMARY KEY,
    key_id text NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);

CREATE TABLE login_tokens (
    hash text PRIMARY KEY,
    key_id text NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);

-- Who did it: the key (its name) that queued a run (a retry queues a copy: the copy names the retrier) and that
-- cancelled it; queue pauses and resumes, in queue_actions.
ALTER TABLE runs ADD COLUMN queued_by text, ADD COLUMN cancelled_by text;

CREATE TABLE queue_actions (
    id bigserial PRIMARY KEY,
    queue text NOT NULL,
    action text NOT NULL,
    actor text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queue_actions_latest ON queue_actions (queue, id DESC);
