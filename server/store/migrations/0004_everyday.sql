-- Team Chat schema, version 4: edits, replies, mentions, reactions, attachments,
-- notification mutes and full-text search (issue 8).
ALTER TABLE messages ADD COLUMN edited_at INTEGER;                       -- null: never edited
ALTER TABLE messages ADD COLUMN reply_to INTEGER REFERENCES messages (id); -- same conversation
ALTER TABLE messages ADD COLUMN mention_all INTEGER NOT NULL DEFAULT 0;  -- @all by an owner or admin
CREATE INDEX messages_reply_to ON messages (reply_to) WHERE reply_to IS NOT NULL;

-- The text a message had before each edit (the audit trail of edits).
CREATE TABLE message_edits (
    id         INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    body       TEXT    NOT NULL,
    edited_at  INTEGER NOT NULL
);
CREATE INDEX message_edits_message ON message_edits (message_id);
CREATE TRIGGER message_edits_append_only BEFORE UPDATE ON message_edits
BEGIN
    SELECT RAISE(ABORT, 'message_edits is append-only');
END;

CREATE TABLE reactions (
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    emoji      TEXT    NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
) WITHOUT ROWID;

-- One row per mentioned user (an @all gives one row per member but the sender).
CREATE TABLE mentions (
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message_id      INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    PRIMARY KEY (user_id, message_id)
) WITHOUT ROWID;
CREATE INDEX mentions_message ON mentions (message_id);
CREATE INDEX mentions_conversation ON mentions (user_id, conversation_id, seq);

CREATE TABLE notification_mutes (
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, conversation_id)
) WITHOUT ROWID;

-- Files live in the data dir under attachments/ by SHA-256; a row is written
-- only after its file is on disk. message_id is null until a message uses it.
CREATE TABLE attachments (
    id              INTEGER PRIMARY KEY,
    uploader_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    message_id      INTEGER REFERENCES messages (id) ON DELETE CASCADE,
    hash            TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    content_type    TEXT    NOT NULL,
    size            INTEGER NOT NULL,
    width           INTEGER NOT NULL DEFAULT 0,
    height          INTEGER NOT NULL DEFAULT 0,
    thumbnail       INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);
CREATE INDEX attachments_message ON attachments (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX attachments_hash ON attachments (hash);
CREATE INDEX attachments_uploader ON attachments (uploader_id);

-- Full-text index of message bodies (a deleted message's body is '', so it
-- leaves the index).
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    body, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2', prefix = '3'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
