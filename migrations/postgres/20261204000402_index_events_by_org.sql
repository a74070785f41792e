-- The events log lists one organization's events newest first, a page at a time.
CREATE INDEX events_org ON events (org_id, id);
