CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    url TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    -- Why the webhook was disabled (by a user, after a 410, after failing too long); NULL when enabled.
    disabled_reason TEXT,
    disabled_at INTEGER,
    -- When the current run of failed attempts began; NULL after any success.
    failing_since INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (org_id, name_key)
);

-- A webhook's signing secrets, encrypted under the master key: XChaCha20-Poly1305 with the
-- secret's id as associated data, stored as nonce || ciphertext. The current secret has no
-- expiry; a regenerated one keeps signing until `expires_at` (the rotation overlap).
CREATE TABLE webhook_secrets (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
);
CREATE INDEX webhook_secrets_webhook ON webhook_secrets (webhook_id, created_at);
