-- A webhook disabled automatically (410, or failing too long) shows a notice on every page of its
-- organization until a user re-enables it, deletes it, or dismisses the notice (this time).
ALTER TABLE webhooks ADD COLUMN notice_dismissed_at INTEGER;

-- The organization's webhook that receives a signed webhook.disabled event when another of its
-- webhooks is disabled automatically; none when NULL.
ALTER TABLE organizations ADD COLUMN notify_webhook_id TEXT REFERENCES webhooks (id) ON DELETE SET NULL;
