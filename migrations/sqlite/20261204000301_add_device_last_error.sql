-- The last message a device sent that could not be ingested (over MQTT there is no answer to
-- tell the device), shown on its page.
ALTER TABLE devices ADD COLUMN last_error TEXT;
ALTER TABLE devices ADD COLUMN last_error_at INTEGER;
