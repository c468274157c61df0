-- Disabling without deleting (NULL: enabled), and the networks a token may be used from
-- (comma-separated CIDR networks; NULL: anywhere).
ALTER TABLE api_tokens
    ADD COLUMN disabled_at BIGINT,
    ADD COLUMN allowed_ips TEXT;

-- Both are cached with the token by other instances: a change must reach them.
DROP TRIGGER api_tokens_changed_update ON api_tokens;
CREATE TRIGGER api_tokens_changed_update
    AFTER UPDATE ON api_tokens
    FOR EACH ROW
    WHEN ((OLD.digest, OLD.access, OLD.name, OLD.expires_at, OLD.revoked_at,
           OLD.rate_limit_mode, OLD.rate_limit_short, OLD.rate_limit_long, OLD.disabled_at, OLD.allowed_ips)
          IS DISTINCT FROM (NEW.digest, NEW.access, NEW.name, NEW.expires_at, NEW.revoked_at,
           NEW.rate_limit_mode, NEW.rate_limit_short, NEW.rate_limit_long, NEW.disabled_at, NEW.allowed_ips))
    EXECUTE FUNCTION portcullis_notify_change();
