-- 007: indexes the purge (lanyardctl purge, idle workers; SPEC §6 bounded
-- storage) deletes along, oldest first, so that a batch reads no more rows
-- than it deletes. refresh_tokens, access_tokens, device_codes, sso_states
-- and signin_throttle already have theirs (001, 002, 005).
CREATE INDEX IF NOT EXISTS ix_sessions_refreshed ON sessions (refreshed_at);

CREATE INDEX IF NOT EXISTS ix_sessions_revoked ON sessions (revoked_at);

CREATE INDEX IF NOT EXISTS ix_api_keys_expiry ON api_keys (expires_at);
