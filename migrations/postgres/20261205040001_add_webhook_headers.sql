-- Custom headers sent with every attempt: their names in the clear (one per line, to show them
-- masked), their names and values sealed under the master key with "headers:" + the webhook's
-- id as associated data, as JSON.
ALTER TABLE webhooks ADD COLUMN header_names TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN headers_sealed BYTEA;
