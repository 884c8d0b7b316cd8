-- Team Chat schema, version 1. Times are unix milliseconds (UTC).
CREATE TABLE users (
    id                 INTEGER PRIMARY KEY,
    username           TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    display_name       TEXT    NOT NULL,
    role               TEXT    NOT NULL CHECK (role IN ('admin', 'user', 'guest')),
    password_hash      TEXT    NOT NULL DEFAULT '',
    disabled           INTEGER NOT NULL DEFAULT 0,
    expires_at         INTEGER,               -- guests: account ends then
    token_epoch        INTEGER NOT NULL DEFAULT 0, -- token epoch: tokens of another epoch are refused
    created_at         INTEGER NOT NULL
);

CREATE TABLE conversations (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('group', 'direct')),
    created_at INTEGER NOT NULL,
    locked     INTEGER NOT NULL DEFAULT 0,
    auto_join  INTEGER NOT NULL DEFAULT 0,
    last_seq   INTEGER NOT NULL DEFAULT 0,
    direct_key TEXT UNIQUE                    -- "lowID:highID" for direct conversations
);

CREATE TABLE conversation_members (
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT    NOT NULL CHECK (role IN ('owner', 'member')),
    joined_at       INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;
CREATE INDEX conversation_members_user ON conversation_members (user_id);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    sender_id       INTEGER NOT NULL REFERENCES users (id),
    body            TEXT    NOT NULL,
    client_id       TEXT,
    created_at      INTEGER NOT NULL,
    deleted         INTEGER NOT NULL DEFAULT 0,
    deleted_by      INTEGER REFERENCES users (id),
    deleted_at      INTEGER,
    UNIQUE (conversation_id, seq)
);
CREATE UNIQUE INDEX messages_sender_client ON messages (sender_id, client_id) WHERE client_id IS NOT NULL;

CREATE TABLE refresh_tokens (
    jti        TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE sessions (
    id_hash    BLOB    PRIMARY KEY,           -- sha256 of the cookie value
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE read_markers (
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
) WITHOUT ROWID;
