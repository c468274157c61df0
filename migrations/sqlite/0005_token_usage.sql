-- Allowed and denied requests per token and hour (the hour's first second, Unix time),
-- kept for 30 days. A table of its own: writing counts never touches api_tokens..
CREATE TABLE token_usage (
    token_id INTEGER NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    hour     INTEGER NOT NULL,
    allowed  INTEGER NOT NULL DEFAULT 0,
    denied   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (token_id, hour)
);
CREATE INDEX token_usage_hour ON token_usage (hour);
