-- Whether an organization's finished deliveries are written to the export directory
-- (BIOTZ_EXPORT_DIR) before they are purged.
ALTER TABLE organizations ADD COLUMN export_before_purge BOOLEAN NOT NULL DEFAULT FALSE;
