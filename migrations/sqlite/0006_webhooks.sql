-- Webhook notifications (docs/webhooks.md).

-- Endpoints configured by administrators. The signing secret must be kept in clear to sign
-- deliveries; the API shows it once, at creation or rotation.
CREATE TABLE webhook_endpoints (
    id              INTEGER PRIMARY KEY,
    url             TEXT    NOT NULL,
    description     TEXT    NOT NULL DEFAULT '',
    -- Comma-separated event types, or '*' for all.
    events          TEXT    NOT NULL,
    secret          TEXT    NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    created_by_id   INTEGER,
    created_by_name TEXT
);

-- The outbox: one row per event and endpoint. `next_attempt_at` doubles as the claim lease:
-- a sender moves it past the attempt's timeout before sending, so no other sender takes it.
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY,
    endpoint_id      INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         TEXT    NOT NULL,
    event_type       TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    last_attempt_at  INTEGER,
    last_status_code INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    delivered_at     INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);

-- Which audit events still have to become deliveries. Events written before this migration
-- are done: nobody subscribed to them.
ALTER TABLE audit_events ADD COLUMN webhook_done INTEGER NOT NULL DEFAULT 0;
UPDATE audit_events SET webhook_done = 1;
CREATE INDEX audit_events_webhook_pending ON audit_events (id) WHERE webhook_done = 0;

-- The expiry each notice was sent for: changing the expiry allows a new notice.
ALTER TABLE api_tokens ADD COLUMN expiring_noticed_for INTEGER;
ALTER TABLE api_tokens ADD COLUMN expired_noticed_for INTEGER;
-- Tokens that expired before this version get no late notice.
UPDATE api_tokens SET expired_noticed_for = expires_at, expiring_noticed_for = expires_at
    WHERE expires_at IS NOT NULL AND expires_at <= CAST(strftime('%s', 'now') AS INTEGER);
