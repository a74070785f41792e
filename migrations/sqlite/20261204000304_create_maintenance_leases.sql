-- Background chores that one node at a time should do (the purge and its export): the node
-- that holds an unexpired lease does it; the others skip that round.
CREATE TABLE maintenance_leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
