-- no-transaction
-- Device-offline triggers (SPEC §6a, `kind = 'no_data'`). Such a trigger may count every
-- message type, so `message_type_id` becomes nullable; SQLite cannot drop a NOT NULL, so the
-- table is rebuilt. Foreign keys are off meanwhile (outside a transaction, where the pragma
-- takes effect), so dropping the old table cascades to no alarm, link or timer.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE alarm_triggers_new (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    device_type_id TEXT NOT NULL REFERENCES device_types (id) ON DELETE CASCADE,
    message_type_id TEXT REFERENCES message_types (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    field TEXT NOT NULL,
    op TEXT NOT NULL,
    value TEXT NOT NULL,
    severity TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    condition TEXT,
    clear_condition TEXT,
    for_seconds INTEGER NOT NULL DEFAULT 0,
    -- `threshold` (a condition on a message) or `no_data` (raised by silence).
    kind TEXT NOT NULL DEFAULT 'threshold',
    silent_for_seconds INTEGER,
    UNIQUE (device_type_id, name_key)
);
INSERT INTO alarm_triggers_new (id, org_id, device_type_id, message_type_id, name, name_key, field, op,
                                value, severity, enabled, created_at, updated_at, condition,
                                clear_condition, for_seconds)
    SELECT id, org_id, device_type_id, message_type_id, name, name_key, field, op, value, severity,
           enabled, created_at, updated_at, condition, clear_condition, for_seconds
    FROM alarm_triggers;
DROP TABLE alarm_triggers;
ALTER TABLE alarm_triggers_new RENAME TO alarm_triggers;
CREATE INDEX alarm_triggers_message_type ON alarm_triggers (message_type_id);

-- One row per (device, enabled no_data trigger of its type): the alarm is raised at `due_at`
-- unless a message (of `message_type_id`, or any when NULL) pushes it on first. NULL once the
-- alarm is raised, until the next message. The poller reads `offline_watches_due`, an index
-- range over the due rows only, so 100k quiet devices cost nothing per tick; each message
-- pushes its device's rows along the primary key.
CREATE TABLE offline_watches (
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    trigger_id TEXT NOT NULL REFERENCES alarm_triggers (id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    message_type_id TEXT,
    silent_ms INTEGER NOT NULL,
    due_at INTEGER,
    PRIMARY KEY (device_id, trigger_id)
);
CREATE INDEX offline_watches_due ON offline_watches (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX offline_watches_trigger ON offline_watches (trigger_id);
COMMIT;
PRAGMA foreign_keys = ON;
