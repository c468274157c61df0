-- What the change watcher polls: a counter that triggers raise on every committed change that
-- can alter a verification, from any process (the server, the CLI, manual SQL), like the
-- PostgreSQL NOTIFY triggers. Before, the watcher read PRAGMA data_version, which also counts
-- the server's own batched last-used and usage writes and so emptied the verification cache
-- after every flush.
CREATE TABLE change_counter (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO change_counter (id, value) VALUES (1, 0);

CREATE TRIGGER api_tokens_changed_insert AFTER INSERT ON api_tokens
BEGIN
    UPDATE change_counter SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER api_tokens_changed_delete AFTER DELETE ON api_tokens
BEGIN
    UPDATE change_counter SET value = value + 1 WHERE id = 1;
END;
-- Not for last_used_at, previous_last_used_at or anything else informational.
CREATE TRIGGER api_tokens_changed_update AFTER UPDATE ON api_tokens
WHEN OLD.digest IS NOT NEW.digest OR OLD.access IS NOT NEW.access OR OLD.name IS NOT NEW.name
  OR OLD.expires_at IS NOT NEW.expires_at OR OLD.revoked_at IS NOT NEW.revoked_at
  OR OLD.rate_limit_mode IS NOT NEW.rate_limit_mode OR OLD.rate_limit_short IS NOT NEW.rate_limit_short
  OR OLD.rate_limit_long IS NOT NEW.rate_limit_long OR OLD.disabled_at IS NOT NEW.disabled_at
  OR OLD.allowed_ips IS NOT NEW.allowed_ips OR OLD.previous_digest IS NOT NEW.previous_digest
  OR OLD.previous_valid_until IS NOT NEW.previous_valid_until
BEGIN
    UPDATE change_counter SET value = value + 1 WHERE id = 1;
END;

-- Sessions: ended or deleted (a new session has a fresh random digest no cache can hold).
CREATE TRIGGER sessions_changed_update AFTER UPDATE ON sessions
BEGIN
    UPDATE change_counter SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER sessions_changed_delete AFTER DELETE ON sessions
BEGIN
    UPDATE change_counter SET value = value + 1 WHERE id = 1;
END;

-- Users: what a cached session carries (name, admin flag) or whether it may live (active);
-- a password change ends sessions. Sign-in times are not a change.
CREATE TRIGGER users_changed_delete AFTER DELETE ON users
BEGIN
    UPDATE change_counter SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER users_changed_update AFTER UPDATE ON users
WHEN OLD.username IS NOT NEW.username OR OLD.active IS NOT NEW.active OR OLD.admin IS NOT NEW.admin
  OR OLD.password_hash IS NOT NEW.password_hash
BEGIN
    UPDATE change_counter SET value = value + 1 WHERE id = 1;
END;

-- The expiry notices (webhooks) look for live tokens by expiry time every minute: an index,
-- so that a million tokens without expiry cost nothing.
CREATE INDEX api_tokens_expiry ON api_tokens (expires_at) WHERE revoked_at IS NULL AND expires_at IS NOT NULL;
