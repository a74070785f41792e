-- Roles: `admin` may do everything, `viewer` may read everything but change nothing and never
-- sees a secret or a token. Every user made before roles existed could do everything, so each
-- keeps that as `admin`; `is_admin` never gated anything and goes.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'viewer'));
ALTER TABLE users DROP COLUMN is_admin;

-- An invitation to join an organization: a one-time link whose token is kept only as its
-- SHA-256, deleted when used. One open invitation per email and organization.
CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    token_hash TEXT NOT NULL UNIQUE,
    invited_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    UNIQUE (org_id, email)
);
