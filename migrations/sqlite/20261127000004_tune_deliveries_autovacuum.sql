-- The PostgreSQL version of this migration makes autovacuum visit the deliveries table sooner.
-- SQLite has no autovacuum thresholds (and reuses freed pages by itself): nothing to change.
SELECT 1;
