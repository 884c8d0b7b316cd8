-- Team Chat schema, version 5: full-text indexing moves out of the message
-- commit. An indexer (store/indexer.go) follows the newest indexed message id,
-- kept here, and indexes the newer messages in batches behind the commit.
-- Invariant: messages_fts holds exactly the messages with id <= last_id, each
-- with its current body; newer ones are not in it yet.
CREATE TABLE fts_progress (
    only    INTEGER PRIMARY KEY CHECK (only = 1),
    last_id INTEGER NOT NULL
);
-- Until now the triggers indexed every message as it was stored.
INSERT INTO fts_progress (only, last_id) SELECT 1, coalesce(max(id), 0) FROM messages;

DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_update;
DROP TRIGGER messages_fts_delete;

-- An edit or a delete (body cleared) re-indexes only what is indexed already;
-- a newer message is indexed later with whatever body it has then.
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages
WHEN old.id <= (SELECT last_id FROM fts_progress)
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;

-- A removed row leaves the index; and if the newest rows are removed, their
-- ids can be given again (INTEGER PRIMARY KEY without AUTOINCREMENT), so the
-- progress mark comes back down to the newest remaining id, in this order.
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body)
        SELECT 'delete', old.id, old.body WHERE old.id <= (SELECT last_id FROM fts_progress);
    UPDATE fts_progress SET last_id = (SELECT coalesce(max(id), 0) FROM messages)
        WHERE last_id > (SELECT coalesce(max(id), 0) FROM messages);
END;
