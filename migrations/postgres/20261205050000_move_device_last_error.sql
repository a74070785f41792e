-- Before rejected_messages, a device kept only its last refused MQTT message's reason in
-- devices.last_error. Each such reason becomes that device's oldest rejected message (its id
-- takes the device's ULID, so it sorts before every later one; what was sent was not kept),
-- and the columns, no longer written or read, go.
INSERT INTO rejected_messages (id, org_id, device_id, transport, status, reason, payload, received_at)
SELECT 'rej_' || substr(id, 5), org_id, id, 'mqtt', NULL, last_error, '', last_error_at
FROM devices WHERE last_error IS NOT NULL AND last_error_at IS NOT NULL;
ALTER TABLE devices DROP COLUMN last_error;
ALTER TABLE devices DROP COLUMN last_error_at;
