-- A trigger's whole condition as JSON: one comparison or an all/any group (SPEC §6a). Rows
-- written before this migration have NULL here and are read from `field`/`op`/`value`, which
-- new rows also fill with their first comparison (they are NOT NULL).
ALTER TABLE alarm_triggers ADD COLUMN condition TEXT;
-- Hysteresis: when set, a raised alarm clears only when this condition holds.
ALTER TABLE alarm_triggers ADD COLUMN clear_condition TEXT;
-- Raised only once the condition has held this long (0: at once).
ALTER TABLE alarm_triggers ADD COLUMN for_seconds BIGINT NOT NULL DEFAULT 0;
