-- How a webhook's requests are signed: `biotz` (the Biotz-IoT-Signature header) or `standard`
-- (the Standard Webhooks v1 headers webhook-id, webhook-timestamp, webhook-signature).
ALTER TABLE webhooks ADD COLUMN signing TEXT NOT NULL DEFAULT 'biotz' CHECK (signing IN ('biotz', 'standard'));
