-- Lanyard data model, step 1: every table the service needs.
-- Times are DATETIME in UTC (the worker's session runs with time_zone '+00:00').
-- Secrets are stored only as SHA-256 (BINARY(32)); passwords as scrypt PHC strings.
-- Each statement is idempotent (IF NOT EXISTS) so that a step interrupted half-way
-- can be applied again: MariaDB commits every DDL statement on its own.

CREATE TABLE IF NOT EXISTS settings (
  name VARCHAR(64) NOT NULL,
  value VARBINARY(255) NOT NULL,
  PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS users (
  id CHAR(14) NOT NULL,                       -- u- + 12 base32
  email VARCHAR(254) NOT NULL,                -- lower-cased
  display_name VARCHAR(200) NULL,
  password_hash VARCHAR(255) NOT NULL,        -- $scrypt$ln=…
  platform_admin TINYINT(1) NOT NULL DEFAULT 0,
  disabled TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_users_email (email),
  KEY ix_users_admin (platform_admin)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS organizations (
  id CHAR(16) NOT NULL,                       -- org- + 12 base32
  name VARCHAR(63) NOT NULL,
  display_name VARCHAR(200) NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_organizations_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS memberships (
  org_id CHAR(16) NOT NULL,
  user_id CHAR(14) NOT NULL,
  role ENUM('owner','admin','member') NOT NULL,
  added_at DATETIME NOT NULL,
  PRIMARY KEY (org_id, user_id),
  KEY ix_memberships_user (user_id),
  KEY ix_memberships_role (org_id, role),
  CONSTRAINT fk_memberships_org FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE,
  CONSTRAINT fk_memberships_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS service_accounts (
  id CHAR(15) NOT NULL,                       -- sa- + 12 base32
  org_id CHAR(16) NOT NULL,
  name VARCHAR(63) NOT NULL,
  display_name VARCHAR(200) NULL,
  description VARCHAR(1000) NULL,
  role ENUM('admin','member') NOT NULL DEFAULT 'member',
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_service_accounts_org_name (org_id, name),
  CONSTRAINT fk_service_accounts_org FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS api_keys (
  id CHAR(16) NOT NULL,                       -- RFC 4648 base32, upper case
  service_account_id CHAR(15) NOT NULL,
  secret_hash BINARY(32) NOT NULL,            -- SHA-256 of the 49-character secret
  display_name VARCHAR(200) NULL,
  description VARCHAR(1000) NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  expires_at DATETIME NULL,                   -- NULL: never (only with allow_no_expiry)
  last_used_at DATETIME NULL,                 -- truncated to the minute
  PRIMARY KEY (id),
  KEY ix_api_keys_account (service_account_id, expires_at),
  CONSTRAINT fk_api_keys_account FOREIGN KEY (service_account_id) REFERENCES service_accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS sessions (
  id CHAR(24) NOT NULL,                       -- ses- + 20 base32
  user_id CHAR(14) NOT NULL,
  kind ENUM('signin','device') NOT NULL,
  created_at DATETIME NOT NULL,
  refreshed_at DATETIME NOT NULL,
  revoked_at DATETIME NULL,
  ip VARCHAR(45) NULL,
  user_agent VARCHAR(255) NULL,
  PRIMARY KEY (id),
  KEY ix_sessions_user (user_id, revoked_at),
  CONSTRAINT fk_sessions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS refresh_tokens (
  token_hash BINARY(32) NOT NULL,             -- SHA-256 of lyr_…
  session_id CHAR(24) NOT NULL,
  created_at DATETIME NOT NULL,
  expires_at DATETIME NOT NULL,
  used_at DATETIME NULL,                      -- spent: presenting it again revokes the session
  PRIMARY KEY (token_hash),
  KEY ix_refresh_tokens_session (session_id),
  KEY ix_refresh_tokens_expiry (expires_at),
  CONSTRAINT fk_refresh_tokens_session FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS access_tokens (
  token_hash BINARY(32) NOT NULL,             -- SHA-256 of lya_… (opaque mode)
  session_id CHAR(24) NULL,                   -- users
  user_id CHAR(14) NULL,
  service_account_id CHAR(15) NULL,           -- service accounts (client_credentials)
  api_key_id CHAR(16) NULL,
  created_at DATETIME NOT NULL,
  expires_at DATETIME NOT NULL,
  PRIMARY KEY (token_hash),
  KEY ix_access_tokens_session (session_id),
  KEY ix_access_tokens_key (api_key_id),
  KEY ix_access_tokens_expiry (expires_at),
  CONSTRAINT fk_access_tokens_session FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE,
  CONSTRAINT fk_access_tokens_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT fk_access_tokens_account FOREIGN KEY (service_account_id) REFERENCES service_accounts (id) ON DELETE CASCADE,
  CONSTRAINT fk_access_tokens_key FOREIGN KEY (api_key_id) REFERENCES api_keys (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS device_codes (
  device_code_hash BINARY(32) NOT NULL,       -- SHA-256 of the device_code
  user_code CHAR(8) NOT NULL,                 -- BCDFGHJKLMNPQRSTVWXZ, stored without the hyphen
  created_at DATETIME NOT NULL,
  expires_at DATETIME NOT NULL,
  poll_interval INT NOT NULL DEFAULT 5,
  last_poll_at DATETIME NULL,
  status ENUM('pending','approved','denied','consumed') NOT NULL DEFAULT 'pending',
  user_id CHAR(14) NULL,
  PRIMARY KEY (device_code_hash),
  UNIQUE KEY uq_device_codes_user_code (user_code),
  KEY ix_device_codes_expiry (expires_at),
  CONSTRAINT fk_device_codes_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Sign-in throttling per account (keyed by the SHA-256 of the lower-cased
-- e-mail, so unknown addresses are throttled alike without being stored).
CREATE TABLE IF NOT EXISTS signin_throttle (
  email_hash BINARY(32) NOT NULL,
  window_start DATETIME NOT NULL,
  failures INT NOT NULL,
  PRIMARY KEY (email_hash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Audit events keep names and ids as text, with no foreign keys: they outlive
-- what they describe.
CREATE TABLE IF NOT EXISTS audit_events (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  time DATETIME(3) NOT NULL,
  org_id CHAR(16) NULL,
  org_name VARCHAR(63) NULL,
  actor_type VARCHAR(32) NOT NULL,
  actor_id VARCHAR(64) NULL,
  action VARCHAR(64) NOT NULL,
  target_type VARCHAR(32) NULL,
  target_id VARCHAR(254) NULL,
  ip VARCHAR(45) NULL,
  user_agent VARCHAR(255) NULL,
  request_id VARCHAR(128) NULL,
  outcome ENUM('success','failure') NOT NULL,
  PRIMARY KEY (id),
  KEY ix_audit_events_org (org_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
