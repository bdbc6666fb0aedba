-- Lanyard data model, step 5: single sign-on per organization (SPEC §5.15).
-- An organization's OpenID Connect provider, the e-mail domains it speaks
-- for (each claimed by one organization: the primary key), and the short-
-- lived state of sign-ins under way. The client secret is stored sealed
-- (AES-256-GCM under security.secrets_key_file), never in the clear; the
-- state and the browser-binding cookie only as SHA-256. The PKCE verifier
-- and the nonce are not stored at all: they are derived from the binding
-- cookie's secret, which only the browser holds.
-- Idempotent, like every step.

CREATE TABLE IF NOT EXISTS org_sso (
  org_id CHAR(16) NOT NULL,
  issuer VARCHAR(512) NOT NULL,
  client_id VARCHAR(255) NOT NULL,
  client_secret_sealed VARCHAR(1024) NOT NULL,  -- v1.<base64url(nonce || ciphertext || tag)>
  default_role ENUM('admin','member') NOT NULL DEFAULT 'member',
  authorization_endpoint VARCHAR(2048) NOT NULL, -- from the discovery document, read at PUT
  token_endpoint VARCHAR(2048) NOT NULL,
  jwks_uri VARCHAR(2048) NOT NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  PRIMARY KEY (org_id),
  CONSTRAINT fk_org_sso_org FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS sso_domains (
  domain VARCHAR(253) NOT NULL,                 -- lower-cased
  org_id CHAR(16) NOT NULL,
  PRIMARY KEY (domain),
  KEY ix_sso_domains_org (org_id),
  CONSTRAINT fk_sso_domains_sso FOREIGN KEY (org_id) REFERENCES org_sso (org_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS sso_states (
  state_hash BINARY(32) NOT NULL,               -- SHA-256 of the state parameter
  org_id CHAR(16) NOT NULL,
  binding_hash BINARY(32) NOT NULL,             -- SHA-256 of the browser-binding cookie
  return_to VARCHAR(1024) NOT NULL,
  created_at DATETIME NOT NULL,
  expires_at DATETIME NOT NULL,
  PRIMARY KEY (state_hash),
  KEY ix_sso_states_expires (expires_at),
  CONSTRAINT fk_sso_states_org FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A user made by an organization's first SSO sign-in remembers that
-- organization: SSO signs in only the users its own provider made (an
-- organization's provider never speaks for an account made otherwise).
ALTER TABLE users ADD COLUMN IF NOT EXISTS sso_org_id CHAR(16) NULL;

ALTER TABLE sessions MODIFY kind ENUM('signin','device','sso') NOT NULL;
