package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"teamchat/server/model"
)

// Reports (issue 6, oversight and grading): the reads behind the participation
// and transcript exports. Times are unix ms; a nil bound is open. The range is
// half-open: since <= created_at < until.

// ReportMessage is one non-deleted message as participation counts it.
type ReportMessage struct {
	SenderID         int64
	ConversationID   int64
	ConversationName string
	Body             string
	CreatedAt        int64
}

func bound(v *int64) any {
	if v == nil {
		return nil
	}
	return *v
}

// NonAdminUsers lists every account that is not an admin (users and guests,
// disabled ones too), ordered by display name, then id.
func (s *Store) NonAdminUsers(ctx context.Context) ([]model.User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userCols+` FROM users u WHERE u.role <> 'admin'
		ORDER BY u.display_name COLLATE NOCASE, u.display_name, u.id`)
	if err != nil {
		return nil, fmt.Errorf("store: non-admin users: %w", err)
	}
	defer rows.Close()
	users := []model.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("store: non-admin users: %w", err)
		}
		users = append(users, u.User)
	}
	return users, rows.Err()
}

// ParticipationMessages streams the non-deleted messages created in the range,
// in (sender, conversation, seq) order.
func (s *Store) ParticipationMessages(ctx context.Context, since, until *int64, fn func(ReportMessage) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT m.sender_id, m.conversation_id, c.name, m.body, m.created_at
		FROM messages m JOIN conversations c ON c.id = m.conversation_id
		WHERE m.deleted = 0 AND c.deleted_at IS NULL AND (?1 IS NULL OR m.created_at >= ?1) AND (?2 IS NULL OR m.created_at < ?2)
		ORDER BY m.sender_id, m.conversation_id, m.seq`, bound(since), bound(until))
	if err != nil {
		return fmt.Errorf("store: participation: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m ReportMessage
		if err := rows.Scan(&m.SenderID, &m.ConversationID, &m.ConversationName, &m.Body, &m.CreatedAt); err != nil {
			return fmt.Errorf("store: participation: %w", err)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return rows.Err()
}

// MessagesInRange returns a conversation's messages (deleted ones included,
// with an empty body) created in the range, in seq order.
func (s *Store) MessagesInRange(ctx context.Context, convID int64, since, until *int64) ([]model.Message, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+msgCols+` FROM messages m JOIN users u ON u.id = m.sender_id
		WHERE m.conversation_id = ?1 AND (?2 IS NULL OR m.created_at >= ?2) AND (?3 IS NULL OR m.created_at < ?3)
		ORDER BY m.seq`, convID, bound(since), bound(until))
	if err != nil {
		return nil, fmt.Errorf("store: transcript: %w", err)
	}
	defer rows.Close()
	out := []model.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("store: transcript: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, hydrate(ctx, s.r, out)
}

// SessionBounds returns a class session's time range: from its start to its
// end (inclusive: until is ended_at + 1 ms), open-ended while it runs.
// ErrNotFound when there is no such session (or no class_sessions table).
func (s *Store) SessionBounds(ctx context.Context, id int64) (since int64, until *int64, err error) {
	var ended sql.NullInt64
	err = s.r.QueryRowContext(ctx, `SELECT started_at, ended_at FROM class_sessions WHERE id = ?`, id).Scan(&since, &ended)
	if err != nil {
		if err == sql.ErrNoRows || strings.Contains(err.Error(), "no such table") {
			return 0, nil, model.NotFound("class session")
		}
		return 0, nil, fmt.Errorf("store: session bounds: %w", err)
	}
	if ended.Valid {
		u := ended.Int64 + 1
		until = &u
	}
	return since, until, nil
}

// ClassSessionByID returns one class session. ErrNotFound when there is no
// such session (or no class_sessions table).
func (s *Store) ClassSessionByID(ctx context.Context, id int64) (ClassSession, error) {
	c, err := scanClassSession(s.r.QueryRowContext(ctx, `SELECT `+classSessionCols+` FROM class_sessions WHERE id = ?`, id), now())
	if err != nil {
		if err == sql.ErrNoRows || strings.Contains(err.Error(), "no such table") {
			return c, model.NotFound("class session")
		}
		return c, fmt.Errorf("store: class session: %w", err)
	}
	return c, nil
}

// AllMessagesInRange returns the messages of every conversation not in the
// trash (deleted messages included, with an empty body) created in the range,
// in (conversation, seq) order. One query, so one consistent snapshot.
func (s *Store) AllMessagesInRange(ctx context.Context, since, until *int64) ([]model.Message, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+msgCols+` FROM messages m JOIN users u ON u.id = m.sender_id
		JOIN conversations c ON c.id = m.conversation_id AND c.deleted_at IS NULL
		WHERE (?1 IS NULL OR m.created_at >= ?1) AND (?2 IS NULL OR m.created_at < ?2)
		ORDER BY m.conversation_id, m.seq`, bound(since), bound(until))
	if err != nil {
		return nil, fmt.Errorf("store: session transcript: %w", err)
	}
	defer rows.Close()
	out := []model.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("store: session transcript: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
