-- How long an organization keeps finished messages, events, deliveries and attempts, in
-- milliseconds; NULL follows the server's BIOTZ_RETAIN.
ALTER TABLE organizations ADD COLUMN retain_ms INTEGER;
