-- Class sessions and keyword flags / reports (issue 6).

-- A class session ("Lecture 5"). At most one is open (ended_at null) at a time.
CREATE TABLE class_sessions (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    started_at INTEGER NOT NULL,
    ends_at    INTEGER,                -- planned end (unix ms); null: ended by hand
    ended_at   INTEGER,                -- null while open
    started_by INTEGER,
    ended_by   INTEGER                 -- null: ended automatically at ends_at
);
CREATE UNIQUE INDEX class_sessions_one_open ON class_sessions ((ended_at IS NULL)) WHERE ended_at IS NULL;

-- Guests who joined during a session belong to it and end with it.
ALTER TABLE users ADD COLUMN session_id INTEGER REFERENCES class_sessions (id);
CREATE INDEX users_session ON users (session_id) WHERE session_id IS NOT NULL;

-- Flagged messages: a keyword of the class's list, or a report by a user.
CREATE TABLE flags (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL CHECK (kind IN ('keyword', 'report')),
    message_id  INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    word        TEXT,                  -- keyword flags
    reason      TEXT,                  -- reports
    reporter_id INTEGER REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    resolved_at INTEGER,
    resolved_by INTEGER REFERENCES users (id),
    note        TEXT
);
CREATE UNIQUE INDEX flags_report_once ON flags (message_id, reporter_id) WHERE kind = 'report';
CREATE INDEX flags_open ON flags (id) WHERE resolved_at IS NULL;
CREATE INDEX flags_message ON flags (message_id);
