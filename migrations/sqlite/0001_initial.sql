-- Users of the web admin and the API. Usernames are unique regardless of case.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    email         TEXT    NOT NULL,
    first_name    TEXT    NOT NULL DEFAULT '',
    last_name     TEXT    NOT NULL DEFAULT '',
    password_hash TEXT,
    active        INTEGER NOT NULL DEFAULT 1,
    admin         INTEGER NOT NULL DEFAULT 0,
    date_created  INTEGER NOT NULL,
    date_modified INTEGER NOT NULL,
    date_logged   INTEGER
);

-- API tokens belong to the installation: created_by is a snapshot for information only,
-- with no foreign key, so deleting a user never touches a token.
CREATE TABLE api_tokens (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    digest          BLOB    NOT NULL UNIQUE,
    hint            TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    description     TEXT    NOT NULL DEFAULT '',
    access          TEXT    NOT NULL CHECK (access IN ('read', 'full')),
    created_at      INTEGER NOT NULL,
    created_by_id   INTEGER,
    created_by_name TEXT,
    expires_at      INTEGER,
    last_used_at    INTEGER,
    revoked_at      INTEGER
);

-- Sign-in sessions; the bearer secret is stored only as its SHA-256 digest.
CREATE TABLE sessions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    digest     BLOB    NOT NULL UNIQUE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    actor_kind TEXT    NOT NULL,
    actor_id   INTEGER,
    actor_name TEXT,
    target     TEXT,
    client_ip  TEXT,
    details    TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_kind ON audit_events (kind, id);
