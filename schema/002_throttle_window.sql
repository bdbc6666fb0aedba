-- Lanyard data model, step 2: sign-in throttle rows are purged by age.
-- signin_throttle.email_hash now holds the SHA-256 of any throttle key (an
-- account's e-mail or a client address, see include/lanyard/throttle.h); the
-- column keeps its name. The purge deletes small batches of rows whose
-- window has passed, oldest first: this index keeps that from scanning (and
-- locking) the whole table. Idempotent, like every step.

CREATE INDEX IF NOT EXISTS ix_signin_throttle_window ON signin_throttle (window_start);
