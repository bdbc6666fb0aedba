-- Lanyard data model, step 3: API keys of users (personal keys) and keys
-- scoped to one resource (SPEC §4, §5.11).
--
-- Every key now names the organization it acts in (org_id): a service
-- account's key its account's organization, a personal key the one it was
-- made for. A personal key has user_id and its own role instead of a
-- service account; its foreign key on the membership (org_id, user_id)
-- removes it with the membership, so a user who leaves an organization (or
-- is deleted, or whose organization is deleted) loses its keys there in the
-- same statement. A service account's key has user_id NULL, which that
-- foreign key ignores. lifetime is the length a key was made with (NULL:
-- none), which a rotation gives the new key. Idempotent, like every step.

ALTER TABLE api_keys
  MODIFY COLUMN service_account_id CHAR(15) NULL,
  ADD COLUMN IF NOT EXISTS org_id CHAR(16) NULL AFTER id,
  ADD COLUMN IF NOT EXISTS user_id CHAR(14) NULL AFTER service_account_id,
  ADD COLUMN IF NOT EXISTS role ENUM('admin','member') NULL AFTER user_id,
  ADD COLUMN IF NOT EXISTS resource VARCHAR(255) NULL AFTER role,
  ADD COLUMN IF NOT EXISTS lifetime BIGINT NULL AFTER expires_at;

UPDATE api_keys k JOIN service_accounts s ON s.id = k.service_account_id
  SET k.org_id = s.org_id WHERE k.org_id IS NULL;

ALTER TABLE api_keys MODIFY COLUMN org_id CHAR(16) NOT NULL;

CREATE INDEX IF NOT EXISTS ix_api_keys_org ON api_keys (org_id, id);

CREATE INDEX IF NOT EXISTS ix_api_keys_user ON api_keys (user_id, expires_at);

ALTER TABLE api_keys
  ADD CONSTRAINT fk_api_keys_org FOREIGN KEY IF NOT EXISTS (org_id)
    REFERENCES organizations (id) ON DELETE CASCADE;

ALTER TABLE api_keys
  ADD CONSTRAINT fk_api_keys_member FOREIGN KEY IF NOT EXISTS (org_id, user_id)
    REFERENCES memberships (org_id, user_id) ON DELETE CASCADE;
