-- Disabling without deleting (NULL: enabled), and the networks a token may be used from
-- (comma-separated CIDR networks; NULL: anywhere).
ALTER TABLE api_tokens ADD COLUMN disabled_at INTEGER;
ALTER TABLE api_tokens ADD COLUMN allowed_ips TEXT;
