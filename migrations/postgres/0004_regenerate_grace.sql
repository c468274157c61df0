-- Regenerating with a grace period: the previous secret's digest keeps working until
-- previous_valid_until, and its last use is recorded so administrators see whether clients
-- still use it.
ALTER TABLE api_tokens
    ADD COLUMN previous_digest BYTEA,
    ADD COLUMN previous_valid_until BIGINT,
    ADD COLUMN previous_last_used_at BIGINT;
CREATE UNIQUE INDEX api_tokens_previous_digest ON api_tokens (previous_digest);

DROP TRIGGER api_tokens_changed_update ON api_tokens;
CREATE TRIGGER api_tokens_changed_update
    AFTER UPDATE ON api_tokens
    FOR EACH ROW
    WHEN ((OLD.digest, OLD.access, OLD.name, OLD.expires_at, OLD.revoked_at,
           OLD.rate_limit_mode, OLD.rate_limit_short, OLD.rate_limit_long, OLD.disabled_at, OLD.allowed_ips,
           OLD.previous_digest, OLD.previous_valid_until)
          IS DISTINCT FROM (NEW.digest, NEW.access, NEW.name, NEW.expires_at, NEW.revoked_at,
           NEW.rate_limit_mode, NEW.rate_limit_short, NEW.rate_limit_long, NEW.disabled_at, NEW.allowed_ips,
           NEW.previous_digest, NEW.previous_valid_until))
    EXECUTE FUNCTION portcullis_notify_change();
