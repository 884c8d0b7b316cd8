-- Moderation (issue 6): slow mode, pins, mutes, and the append-only audit log.
ALTER TABLE conversations ADD COLUMN slow_mode_seconds INTEGER NOT NULL DEFAULT 0;

ALTER TABLE messages ADD COLUMN pinned_at INTEGER;                    -- null: not pinned
ALTER TABLE messages ADD COLUMN pinned_by INTEGER REFERENCES users (id);
CREATE INDEX messages_pinned ON messages (conversation_id, pinned_at) WHERE pinned_at IS NOT NULL;
-- Slow mode reads a sender's newest message in a conversation inside the commit.
CREATE INDEX messages_conv_sender ON messages (conversation_id, sender_id, created_at);

CREATE TABLE mutes (
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    until           INTEGER NOT NULL,       -- the mute ends then (unix ms)
    muted_by        INTEGER,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;

-- Append-only: triggers refuse every UPDATE and DELETE. actor_id is null for
-- the command line; ids are kept without foreign keys so nothing cascades here.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    actor_id    INTEGER,
    action      TEXT    NOT NULL,
    target_type TEXT    NOT NULL,
    target_id   INTEGER,
    details     TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
    created_at  INTEGER NOT NULL
);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- INSERT OR REPLACE would delete the old row without the delete trigger.
CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log
WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
