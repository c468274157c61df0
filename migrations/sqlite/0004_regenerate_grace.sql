-- Regenerating with a grace period: the previous secret's digest keeps working until
-- previous_valid_until, and its last use is recorded so administrators see whether clients
-- still use it.
ALTER TABLE api_tokens ADD COLUMN previous_digest BLOB;
ALTER TABLE api_tokens ADD COLUMN previous_valid_until INTEGER;
ALTER TABLE api_tokens ADD COLUMN previous_last_used_at INTEGER;
CREATE UNIQUE INDEX api_tokens_previous_digest ON api_tokens (previous_digest);
