-- Per-token rate limits: `default` (the installation's [rate_limits]), `off`, or `custom`
-- with the limits of the short and the long window.
ALTER TABLE api_tokens
    ADD COLUMN rate_limit_mode TEXT NOT NULL DEFAULT 'default'
        CHECK (rate_limit_mode IN ('default', 'off', 'custom')),
    ADD COLUMN rate_limit_short BIGINT CHECK (rate_limit_short > 0),
    ADD COLUMN rate_limit_long BIGINT CHECK (rate_limit_long > 0);

-- Other instances cache a token's rate-limit setting with it: a change must reach them.
DROP TRIGGER api_tokens_changed_update ON api_tokens;
CREATE TRIGGER api_tokens_changed_update
    AFTER UPDATE ON api_tokens
    FOR EACH ROW
    WHEN ((OLD.digest, OLD.access, OLD.name, OLD.expires_at, OLD.revoked_at,
           OLD.rate_limit_mode, OLD.rate_limit_short, OLD.rate_limit_long)
          IS DISTINCT FROM (NEW.digest, NEW.access, NEW.name, NEW.expires_at, NEW.revoked_at,
           NEW.rate_limit_mode, NEW.rate_limit_short, NEW.rate_limit_long))
    EXECUTE FUNCTION portcullis_notify_change();
