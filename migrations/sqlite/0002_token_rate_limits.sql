-- Per-token rate limits: `default` (the installation's [rate_limits]), `off`, or `custom`
-- with the limits of the short and the long window.
ALTER TABLE api_tokens ADD COLUMN rate_limit_mode TEXT NOT NULL DEFAULT 'default'
    CHECK (rate_limit_mode IN ('default', 'off', 'custom'));
ALTER TABLE api_tokens ADD COLUMN rate_limit_short INTEGER CHECK (rate_limit_short > 0);
ALTER TABLE api_tokens ADD COLUMN rate_limit_long INTEGER CHECK (rate_limit_long > 0);
