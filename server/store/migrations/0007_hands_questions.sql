-- Raised hands: an append-only log of raise and lower events per conversation.
-- A hand is up while its user's newest event in the conversation is a raise;
-- the queue is those raises in id order. Rows are never changed or removed,
-- except by the cascade when their conversation is deleted.
CREATE TABLE hand_events (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    raised          INTEGER NOT NULL CHECK (raised IN (0, 1)),
    -- why a hand went down: self (its user), next (called on), lowered (one, by staff), all (lower all)
    reason          TEXT    NOT NULL DEFAULT '' CHECK (reason IN ('', 'self', 'next', 'lowered', 'all')),
    by_user_id      INTEGER REFERENCES users (id),
    created_at      INTEGER NOT NULL
);
CREATE INDEX hand_events_user ON hand_events (conversation_id, user_id, id);
CREATE INDEX hand_events_time ON hand_events (created_at);

CREATE TRIGGER hand_events_no_update BEFORE UPDATE ON hand_events
BEGIN
    SELECT RAISE(ABORT, 'hand_events is append-only');
END;

CREATE TRIGGER hand_events_no_delete BEFORE DELETE ON hand_events
WHEN EXISTS (SELECT 1 FROM conversations WHERE id = OLD.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'hand_events is append-only');
END;

-- Questions (Q&A board) per conversation. anonymous: hidden from classmates,
-- never from staff (admins and the conversation's owners). A withdrawn or
-- dismissed question is kept for the record (transcripts), hidden from students.
CREATE TABLE questions (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    asker_id        INTEGER NOT NULL REFERENCES users (id),
    body            TEXT    NOT NULL,
    anonymous       INTEGER NOT NULL DEFAULT 1 CHECK (anonymous IN (0, 1)),
    status          TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered', 'dismissed', 'withdrawn')),
    pinned          INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
    answer          TEXT    NOT NULL DEFAULT '',
    answered_by     INTEGER REFERENCES users (id),
    answered_at     INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX questions_conversation ON questions (conversation_id, id);
CREATE INDEX questions_time ON questions (created_at);

-- One upvote per user and question; taking it back deletes the row.
CREATE TABLE question_votes (
    question_id INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (question_id, user_id)
) WITHOUT ROWID;
CREATE INDEX question_votes_user ON question_votes (user_id, created_at);
