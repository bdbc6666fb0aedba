-- Lanyard data model, step 4: the platform trail filtered by organization
-- name (SPEC §5.12: ?org=NAME, which also finds the events of an
-- organization deleted since) reads an index, not the whole table.
-- Idempotent, like every step.

CREATE INDEX IF NOT EXISTS ix_audit_events_org_name ON audit_events (org_name, id);
