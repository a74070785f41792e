-- The recent messages a device sent that were refused (SPEC §6b, the device's page): over HTTP
-- with the status answered (400, 413, 415, 422), over MQTT without one. Only the latest few per
-- device are kept (the insert trims older ones), so the table stays bounded without retention.
-- `payload` is the start of what was sent, for the operator to see what was wrong.
CREATE TABLE rejected_messages (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    transport TEXT NOT NULL,
    status BIGINT,
    reason TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX rejected_messages_device ON rejected_messages (device_id, id);

-- The device's page links each accepted message to the alarm it moved.
CREATE INDEX alarm_history_message ON alarm_history (message_id) WHERE message_id IS NOT NULL;
