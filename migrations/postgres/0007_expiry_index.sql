-- The expiry notices (webhooks) look for live tokens by expiry time every minute: an index,
-- so that a million tokens without expiry cost nothing.
CREATE INDEX api_tokens_expiry ON api_tokens (expires_at) WHERE revoked_at IS NULL AND expires_at IS NOT NULL;
