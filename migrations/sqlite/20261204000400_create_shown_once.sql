-- A value the UI shows exactly once (a new device ingest token or API token), kept only from the POST that
-- made it until the page after the redirect reads it: the read deletes the row, so reloading
-- that page cannot show it again. The value is sealed under the master key with the row's id
-- as associated data; a row nobody read is useless after `expires_at` and purged.
CREATE TABLE shown_once (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- What the value belongs to (a device or API token id) and which page shows it.
    subject TEXT NOT NULL,
    kind TEXT NOT NULL,
    sealed BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX shown_once_expiry ON shown_once (expires_at);
