-- Lanyard data model, step 6: guard counters, for rules that hold on Galera.
-- A rule over several rows (an organization keeps an owner, the platform an
-- active administrator, an owner at most api_keys.max_per_account unexpired
-- keys) was kept by a locking read: the competitor waits, then counts what
-- the first left. On a Galera cluster a locking read locks on its own node
-- only and is not in the write set, so two transactions on two nodes that
-- each check the rule and then write DIFFERENT rows both certify. Each such
-- transaction now first adds one to the guard of a row they all share (the
-- organization, the user or service account, the settings row below):
-- writes of one row certify one at a time, and the loser comes back as a
-- deadlock, which the worker retries and which then counts again. It must be
-- a real change: an UPDATE that leaves the row as it was writes nothing, is
-- in no write set, and protects nothing (doc/decisions.md, "Galera").
-- Idempotent, like every step.

ALTER TABLE organizations ADD COLUMN IF NOT EXISTS guard BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN IF NOT EXISTS guard BIGINT NOT NULL DEFAULT 0;
ALTER TABLE service_accounts ADD COLUMN IF NOT EXISTS guard BIGINT NOT NULL DEFAULT 0;
ALTER TABLE settings ADD COLUMN IF NOT EXISTS guard BIGINT NOT NULL DEFAULT 0;

-- The one row every change that could take away the last active platform
-- administrator writes (and the bootstrap, which makes the first one).
INSERT IGNORE INTO settings (name, value) VALUES ('platform_admins', '');
