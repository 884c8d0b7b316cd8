-- Team Chat schema, version 6: deleting a conversation moves it to a trash.
-- A trashed conversation (deleted_at set) keeps its members, messages, seqs,
-- reactions and attachments but is hidden from everyone; an admin can restore
-- it until the retention sweep purges it (the old DELETE, with its cascades).
-- A direct conversation's key moves to trashed_direct_key while trashed, so
-- the same two people can start a new one; a restore takes the key back.
ALTER TABLE conversations ADD COLUMN deleted_at INTEGER;
ALTER TABLE conversations ADD COLUMN deleted_by INTEGER;
ALTER TABLE conversations ADD COLUMN trashed_direct_key TEXT;
CREATE INDEX conversations_trash ON conversations (deleted_at) WHERE deleted_at IS NOT NULL;
