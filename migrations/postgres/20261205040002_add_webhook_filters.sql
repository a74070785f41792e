-- Which events a webhook receives: the alarm event types it chose, comma-separated (empty for
-- all), and the lowest severity it wants (NULL for all).
ALTER TABLE webhooks ADD COLUMN event_types TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN min_severity TEXT CHECK (min_severity IN ('info', 'warning', 'critical'));
