CREATE TABLE device_types (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (org_id, name_key)
);

-- A message type's schema is JSON Schema text, checked to compile when saved. `updated_at`
-- keys the compiled-validator cache, so every node notices an edit.
CREATE TABLE message_types (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    device_type_id TEXT NOT NULL REFERENCES device_types (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    schema TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (device_type_id, name)
);

-- A device's ingest token is shown once; only its SHA-256 is kept.
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    device_type_id TEXT NOT NULL REFERENCES device_types (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    token_hint TEXT NOT NULL,
    last_seen_at INTEGER,
    created_at INTEGER NOT NULL,
    UNIQUE (org_id, name_key)
);
CREATE INDEX devices_type ON devices (device_type_id);

-- Messages as received (after schema validation), newest last by id.
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    message_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX messages_device ON messages (device_id, id);

-- `value` is the JSON text of the number, string or boolean compared with.
CREATE TABLE alarm_triggers (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    device_type_id TEXT NOT NULL REFERENCES device_types (id) ON DELETE CASCADE,
    message_type_id TEXT NOT NULL REFERENCES message_types (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    field TEXT NOT NULL,
    op TEXT NOT NULL,
    value TEXT NOT NULL,
    severity TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (device_type_id, name_key)
);
CREATE INDEX alarm_triggers_message_type ON alarm_triggers (message_type_id);

-- A trigger's webhook list. Deleting either side removes the link.
CREATE TABLE trigger_webhooks (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    trigger_id TEXT NOT NULL REFERENCES alarm_triggers (id) ON DELETE CASCADE,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    PRIMARY KEY (trigger_id, webhook_id)
);
CREATE INDEX trigger_webhooks_webhook ON trigger_webhooks (webhook_id);

-- One alarm per (device, trigger); the unique key is what makes two concurrent messages unable
-- to raise it twice.
CREATE TABLE alarms (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    trigger_id TEXT NOT NULL REFERENCES alarm_triggers (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    raised_at INTEGER NOT NULL,
    cleared_at INTEGER,
    updated_at INTEGER NOT NULL,
    UNIQUE (device_id, trigger_id)
);
CREATE INDEX alarms_org_state ON alarms (org_id, state, updated_at);

-- The outbox. An event's body is serialised once, when the event happens, and every delivery
-- sends exactly these bytes.
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    alarm_id TEXT REFERENCES alarms (id) ON DELETE SET NULL,
    body BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX events_alarm ON events (alarm_id);

-- One row per (event, webhook). A pending delivery is due at `next_attempt_at`; a dispatcher
-- owns it while `lease_expires_at` is in the future. `queued_attempts` is the attempt count when
-- it was last (re)queued, so that resend and replay start the retry schedule afresh.
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    queued_attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    lease_owner TEXT,
    lease_expires_at INTEGER,
    last_attempt_at INTEGER,
    last_response_status INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (event_id, webhook_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, id);
CREATE INDEX deliveries_org ON deliveries (org_id, id);

-- Every attempt, as sent and as answered. `signature_t` is the t= it was signed with.
CREATE TABLE attempts (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    delivery_id TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    signature_t INTEGER NOT NULL,
    response_status INTEGER,
    response_body BLOB,
    error_kind TEXT,
    error_message TEXT,
    UNIQUE (delivery_id, attempt)
);
