package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"teamchat/server/model"
)

const msgCols = `m.id, m.conversation_id, m.seq, m.body, COALESCE(m.client_id, ''), m.created_at, m.deleted, ` + userCols

func scanMessage(sc scanner) (model.Message, error) {
	var m model.Message
	var created int64
	var deleted int
	var u UserRecord
	var ucreated int64
	var udisabled int
	err := sc.Scan(&m.ID, &m.ConversationID, &m.Seq, &m.Body, &m.ClientID, &created, &deleted,
		&u.ID, &u.Username, &u.DisplayName, &u.Role, &ucreated, &udisabled, &u.PasswordHash, &u.ExpiresAt, &u.TokenEpoch)
	u.CreatedAt = model.Millis(ucreated)
	u.Disabled = udisabled != 0
	m.Sender = u.User
	m.CreatedAt = model.Millis(created)
	m.Deleted = deleted != 0
	if m.Deleted {
		m.Body = ""
	}
	return m, err
}

// Append is one message to store.
type Append struct {
	ConversationID int64
	SenderID       int64
	ClientID       string
	Body           string
}

// AppendResult says what happened to one Append.
type AppendResult struct {
	Message model.Message
	Created bool  // false: an earlier message with the same client_id was returned
	Err     error // a domain error for this message alone
}

// AppendMessages stores a batch of messages in ONE transaction (group commit):
// each gets the next seq of its conversation. Authorization is checked inside
// the transaction against current data: the sender must be active and a member
// (or an admin); a locked conversation takes messages only from owners and admins.
// A message whose (sender, client_id) is already stored is returned, not stored
// again; the same client_id with a different body or conversation is a conflict.
// If the transaction fails, every result carries the error and nothing is stored.
func (s *Store) AppendMessages(ctx context.Context, batch []Append) []AppendResult {
	results := make([]AppendResult, len(batch))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for i := range results {
			results[i] = AppendResult{}
		}
		for i, a := range batch {
			res, err := appendTx(tx, a)
			if err != nil {
				var de *model.Error
				if errors.As(err, &de) {
					results[i].Err = err
					continue
				}
				return err
			}
			results[i] = res
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("store: append messages: %w", err)
		for i := range results {
			results[i] = AppendResult{Err: err}
		}
	}
	return results
}

func appendTx(tx *sql.Tx, a Append) (AppendResult, error) {
	if a.ClientID != "" {
		m, err := scanMessage(tx.QueryRow(`SELECT `+msgCols+` FROM messages m JOIN users u ON u.id = m.sender_id
			WHERE m.sender_id = ? AND m.client_id = ?`, a.SenderID, a.ClientID))
		switch {
		case err == nil:
			var body string
			if err := tx.QueryRow(`SELECT body FROM messages WHERE id = ?`, m.ID).Scan(&body); err != nil {
				return AppendResult{}, err
			}
			if m.ConversationID != a.ConversationID || body != a.Body {
				return AppendResult{}, model.Conflict("client_id %q was already used for a different message", a.ClientID)
			}
			return AppendResult{Message: m}, nil
		case err != sql.ErrNoRows:
			return AppendResult{}, err
		}
	}
	var role string
	var disabled int
	if err := tx.QueryRow(`SELECT role, disabled FROM users WHERE id = ?`, a.SenderID).Scan(&role, &disabled); err != nil {
		if err == sql.ErrNoRows {
			return AppendResult{}, &model.Error{Kind: model.ErrUnauthorized, Msg: "account not found"}
		}
		return AppendResult{}, err
	}
	if disabled != 0 {
		return AppendResult{}, &model.Error{Kind: model.ErrUnauthorized, Msg: "account disabled"}
	}
	var locked int
	if err := tx.QueryRow(`SELECT locked FROM conversations WHERE id = ?`, a.ConversationID).Scan(&locked); err != nil {
		if err == sql.ErrNoRows {
			return AppendResult{}, model.NotFound("conversation")
		}
		return AppendResult{}, err
	}
	var memberRole string
	if err := tx.QueryRow(`SELECT role FROM conversation_members WHERE conversation_id = ? AND user_id = ?`, a.ConversationID, a.SenderID).Scan(&memberRole); err != nil && err != sql.ErrNoRows {
		return AppendResult{}, err
	}
	isAdmin := role == model.RoleAdmin
	if memberRole == "" && !isAdmin {
		return AppendResult{}, model.NotFound("conversation")
	}
	if locked != 0 && !isAdmin && memberRole != model.MemberOwner {
		return AppendResult{}, model.Forbidden("this conversation is locked: only its owners and admins can post")
	}
	var seq int64
	if err := tx.QueryRow(`UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq`, a.ConversationID).Scan(&seq); err != nil {
		return AppendResult{}, err
	}
	var cid any
	if a.ClientID != "" {
		cid = a.ClientID
	}
	res, err := tx.Exec(`INSERT INTO messages (conversation_id, seq, sender_id, body, client_id, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		a.ConversationID, seq, a.SenderID, a.Body, cid, now())
	if err != nil {
		return AppendResult{}, err
	}
	id, _ := res.LastInsertId()
	if memberRole != "" {
		if _, err := tx.Exec(`INSERT INTO read_markers (user_id, conversation_id, seq) VALUES (?, ?, ?)
			ON CONFLICT (user_id, conversation_id) DO UPDATE SET seq = max(seq, excluded.seq)`, a.SenderID, a.ConversationID, seq); err != nil {
			return AppendResult{}, err
		}
	}
	m, err := scanMessage(tx.QueryRow(`SELECT `+msgCols+` FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.id = ?`, id))
	if err != nil {
		return AppendResult{}, err
	}
	return AppendResult{Message: m, Created: true}, nil
}

// MessagePage is one page of messages, oldest first.
type MessagePage struct {
	Messages []model.Message `json:"messages"`
	HasMore  bool            `json:"has_more"`
}

// MessagesAfter returns up to limit messages with seq > after, oldest first.
func (s *Store) MessagesAfter(ctx context.Context, convID, after int64, limit int) (MessagePage, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+msgCols+` FROM messages m JOIN users u ON u.id = m.sender_id
		WHERE m.conversation_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?`, convID, after, limit+1)
	if err != nil {
		return MessagePage{}, fmt.Errorf("store: messages after: %w", err)
	}
	page, err := collect(rows, limit)
	return page, err
}

// MessagesRange returns messages with after < seq < before, oldest first.
func (s *Store) MessagesRange(ctx context.Context, convID, after, before int64) ([]model.Message, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+msgCols+` FROM messages m JOIN users u ON u.id = m.sender_id
		WHERE m.conversation_id = ? AND m.seq > ? AND m.seq < ? ORDER BY m.seq`, convID, after, before)
	if err != nil {
		return nil, fmt.Errorf("store: messages range: %w", err)
	}
	page, err := collect(rows, int(before-after))
	return page.Messages, err
}

// MessagesBefore returns the newest limit messages with seq < before, oldest first.
func (s *Store) MessagesBefore(ctx context.Context, convID, before int64, limit int) (MessagePage, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+msgCols+` FROM messages m JOIN users u ON u.id = m.sender_id
		WHERE m.conversation_id = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?`, convID, before, limit+1)
	if err != nil {
		return MessagePage{}, fmt.Errorf("store: messages before: %w", err)
	}
	page, err := collect(rows, limit)
	if err != nil {
		return page, err
	}
	ms := page.Messages
	for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
		ms[i], ms[j] = ms[j], ms[i]
	}
	return page, nil
}

func collect(rows *sql.Rows, limit int) (MessagePage, error) {
	defer rows.Close()
	page := MessagePage{Messages: []model.Message{}}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return page, fmt.Errorf("store: scan message: %w", err)
		}
		if len(page.Messages) == limit {
			page.HasMore = true
			break
		}
		page.Messages = append(page.Messages, m)
	}
	return page, rows.Err()
}

// Message returns one message by id, or ErrNotFound.
func (s *Store) Message(ctx context.Context, id int64) (model.Message, error) {
	m, err := scanMessage(s.r.QueryRowContext(ctx, `SELECT `+msgCols+` FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.id = ?`, id))
	if err != nil {
		return m, fmt.Errorf("store: message %d: %w", id, mapErr(err))
	}
	return m, nil
}

// DeleteMessage soft-deletes a message (body cleared, who and when recorded).
// It reports false when the message was already deleted.
func (s *Store) DeleteMessage(ctx context.Context, id, by int64) (bool, error) {
	var changed bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE messages SET deleted = 1, body = '', deleted_by = ?, deleted_at = ? WHERE id = ? AND deleted = 0`, by, now(), id)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		changed = n > 0
		return nil
	})
	return changed, err
}

// AllMessages streams every message of a conversation (or of all when convID is 0)
// in (conversation, seq) order, for export.
func (s *Store) AllMessages(ctx context.Context, convID int64, fn func(model.Message) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT `+msgCols+` FROM messages m JOIN users u ON u.id = m.sender_id
		WHERE ?1 = 0 OR m.conversation_id = ?1 ORDER BY m.conversation_id, m.seq`, convID)
	if err != nil {
		return fmt.Errorf("store: export messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return rows.Err()
}
