-- Acknowledging a raised alarm (SPEC §6a): who, when, and an optional note. The user's email is
-- copied so the alarm still tells who acknowledged it after the user is deleted.
ALTER TABLE alarms ADD COLUMN acknowledged_at BIGINT;
ALTER TABLE alarms ADD COLUMN acknowledged_by TEXT;
ALTER TABLE alarms ADD COLUMN acknowledged_email TEXT;
ALTER TABLE alarms ADD COLUMN acknowledge_note TEXT;

-- Every transition of an alarm, written in the transaction that makes it. `cause` is `message`
-- (with the message's id), `user` (with the user's id and email; `api_token` when an API token
-- made it) or `timer` (a duration or offline timer). The message id is kept as text: messages
-- are purged by retention, history stays with its alarm.
CREATE TABLE alarm_history (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    alarm_id TEXT NOT NULL REFERENCES alarms (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    at BIGINT NOT NULL,
    cause TEXT NOT NULL,
    message_id TEXT,
    user_id TEXT,
    user_email TEXT,
    note TEXT,
    event_id TEXT
);
CREATE INDEX alarm_history_alarm ON alarm_history (alarm_id, id);
