-- Allowed and denied requests per token and hour (the hour's first second, Unix time),
-- kept for 30 days. A table of its own: writing counts never touches api_tokens, so its
-- NOTIFY triggers (0001) do not drop the verification caches at every flush.
CREATE TABLE token_usage (
    token_id BIGINT NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    hour     BIGINT NOT NULL,
    allowed  BIGINT NOT NULL DEFAULT 0,
    denied   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (token_id, hour)
);
CREATE INDEX token_usage_hour ON token_usage (hour);
