-- Device-offline triggers (SPEC §6a, `kind = 'no_data'`). Such a trigger may count every
-- message type, so `message_type_id` becomes nullable.
ALTER TABLE alarm_triggers ALTER COLUMN message_type_id DROP NOT NULL;
-- `threshold` (a condition on a message) or `no_data` (raised by silence).
ALTER TABLE alarm_triggers ADD COLUMN kind TEXT NOT NULL DEFAULT 'threshold';
ALTER TABLE alarm_triggers ADD COLUMN silent_for_seconds BIGINT;

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
    silent_ms BIGINT NOT NULL,
    due_at BIGINT,
    PRIMARY KEY (device_id, trigger_id)
);
CREATE INDEX offline_watches_due ON offline_watches (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX offline_watches_trigger ON offline_watches (trigger_id);
