-- Deliveries are a queue: every claim and every result rewrites a row. Vacuum and analyze the
-- table after 2 % of it changed instead of the default 20 % and 10 %, so a burst of work leaves
-- neither stale statistics nor a long tail of dead index entries in front of the due rows.
ALTER TABLE deliveries SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02
);
