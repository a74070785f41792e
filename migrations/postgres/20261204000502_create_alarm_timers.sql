-- A duration trigger's pending raise: the condition became true at `started_at` (by
-- `message_id`) and the alarm is raised at `due_at` unless a message breaks it first. Timers
-- are claimed by due time through `alarm_timers_due`, so finding the due ones costs an index
-- range, not a walk over every device.
CREATE TABLE alarm_timers (
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    trigger_id TEXT NOT NULL REFERENCES alarm_triggers (id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    message_id TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, trigger_id)
);
CREATE INDEX alarm_timers_due ON alarm_timers (due_at);
