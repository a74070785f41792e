-- A device's own message ids (`"id"`, `Idempotency-Key`, MQTT `message-id`), kept 24 hours so a
-- repeat is answered with the message it first created. The primary key is what decides between
-- two nodes racing with the same id: the second insert finds the first one's row.
CREATE TABLE message_keys (
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    message_key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, message_key)
);
CREATE INDEX message_keys_created ON message_keys (created_at);
