package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"teamchat/server/model"
)

// SettingFlagWords holds the class's flag words as a JSON array of strings.
const SettingFlagWords = "flag_words"

// Flag kinds.
const (
	FlagKeyword = "keyword"
	FlagReport  = "report"
)

// FlagConversation names the conversation of a flagged message.
type FlagConversation struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// Flag is a flagged message as the API shows it.
type Flag struct {
	ID           int64            `json:"id"`
	Kind         string           `json:"kind"`
	Word         *string          `json:"word"`     // keyword flags
	Reason       *string          `json:"reason"`   // reports
	Reporter     *model.User      `json:"reporter"` // reports
	Message      model.Message    `json:"message"`
	Conversation FlagConversation `json:"conversation"`
	Context      []model.Message  `json:"context"` // up to 2 messages before and 2 after, oldest first
	CreatedAt    model.Time       `json:"created_at"`
	ResolvedAt   *model.Time      `json:"resolved_at"`
	ResolvedBy   *model.User      `json:"resolved_by"`
	Note         *string          `json:"note"`
}

// KeywordHit is a committed message that contains a flag word.
type KeywordHit struct {
	MessageID int64
	Word      string
}

// AddKeywordFlags records keyword flags and returns their ids (in order).
func (s *Store) AddKeywordFlags(ctx context.Context, hits []KeywordHit) ([]int64, error) {
	ids := make([]int64, 0, len(hits))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		t := now()
		for _, h := range hits {
			var id int64
			if err := tx.QueryRow(`INSERT INTO flags (kind, message_id, word, created_at) VALUES ('keyword', ?, ?, ?) RETURNING id`,
				h.MessageID, h.Word, t).Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: keyword flags: %w", err)
	}
	return ids, nil
}

// AddReport records a user's report of a message. A second report of the
// same message by the same user answers ErrConflict.
func (s *Store) AddReport(ctx context.Context, msgID, reporterID int64, reason string) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRow(`INSERT INTO flags (kind, message_id, reason, reporter_id, created_at) VALUES ('report', ?, ?, ?, ?) RETURNING id`,
			msgID, reason, reporterID, now()).Scan(&id)
	})
	if errors.Is(err, model.ErrConflict) {
		return 0, model.Conflict("you have already reported this message")
	}
	if err != nil {
		return 0, fmt.Errorf("store: report: %w", err)
	}
	return id, nil
}

// ResolveFlag marks a flag resolved and records the audit entry in the same
// transaction. Unknown: ErrNotFound; already resolved: ErrConflict.
func (s *Store) ResolveFlag(ctx context.Context, id, by int64, note string, audit AuditEntry) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var resolved sql.NullInt64
		if err := tx.QueryRow(`SELECT resolved_at FROM flags WHERE id = ?`, id).Scan(&resolved); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return model.NotFound("flag")
			}
			return err
		}
		if resolved.Valid {
			return model.Conflict("this flag is already resolved")
		}
		var n any
		if note != "" {
			n = note
		}
		if _, err := tx.Exec(`UPDATE flags SET resolved_at = ?, resolved_by = ?, note = ? WHERE id = ?`, now(), nullID(by), n, id); err != nil {
			return err
		}
		return insertAuditTx(tx, audit)
	})
	if err != nil {
		return fmt.Errorf("store: resolve flag %d: %w", id, err)
	}
	return nil
}

// FlagMessageID returns the message a flag is about, or ErrNotFound.
func (s *Store) FlagMessageID(ctx context.Context, id int64) (int64, error) {
	var m int64
	if err := s.r.QueryRowContext(ctx, `SELECT message_id FROM flags WHERE id = ?`, id).Scan(&m); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, model.NotFound("flag")
		}
		return 0, fmt.Errorf("store: flag %d: %w", id, err)
	}
	return m, nil
}

const flagCols = `f.id, f.kind, f.message_id, f.word, f.reason, f.reporter_id, f.created_at, f.resolved_at, f.resolved_by, f.note`

type flagRow struct {
	f                     Flag
	msgID                 int64
	reporter, resolvedBy  sql.NullInt64
	word, reason, noteCol sql.NullString
}

func scanFlag(sc scanner) (flagRow, error) {
	var r flagRow
	var created int64
	var resolved sql.NullInt64
	if err := sc.Scan(&r.f.ID, &r.f.Kind, &r.msgID, &r.word, &r.reason, &r.reporter, &created, &resolved, &r.resolvedBy, &r.noteCol); err != nil {
		return r, err
	}
	r.f.CreatedAt = model.Millis(created)
	if resolved.Valid {
		v := model.Millis(resolved.Int64)
		r.f.ResolvedAt = &v
	}
	if r.word.Valid {
		r.f.Word = &r.word.String
	}
	if r.reason.Valid {
		r.f.Reason = &r.reason.String
	}
	if r.noteCol.Valid {
		r.f.Note = &r.noteCol.String
	}
	return r, nil
}

// Flag returns one flag with its message and context, or ErrNotFound.
func (s *Store) Flag(ctx context.Context, id int64) (Flag, error) {
	r, err := scanFlag(s.r.QueryRowContext(ctx, `SELECT `+flagCols+` FROM flags f WHERE f.id = ?`, id))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Flag{}, model.NotFound("flag")
		}
		return Flag{}, fmt.Errorf("store: flag %d: %w", id, err)
	}
	users := map[int64]*model.User{}
	if err := s.fillFlag(ctx, &r, users); err != nil {
		return Flag{}, err
	}
	return r.f, nil
}

// Flags lists open (resolved false) or resolved flags, newest first, at most limit.
func (s *Store) Flags(ctx context.Context, resolved bool, limit int) ([]Flag, error) {
	q := `SELECT ` + flagCols + ` FROM flags f WHERE f.resolved_at IS NULL ORDER BY f.id DESC LIMIT ?`
	if resolved {
		q = `SELECT ` + flagCols + ` FROM flags f WHERE f.resolved_at IS NOT NULL ORDER BY f.id DESC LIMIT ?`
	}
	rows, err := s.r.QueryContext(ctx, q, limit)
	if err != nil {
		return nil, fmt.Errorf("store: flags: %w", err)
	}
	var list []flagRow
	for rows.Next() {
		r, err := scanFlag(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: flags: %w", err)
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: flags: %w", err)
	}
	users := map[int64]*model.User{}
	out := make([]Flag, 0, len(list))
	for i := range list {
		if err := s.fillFlag(ctx, &list[i], users); err != nil {
			return nil, err
		}
		out = append(out, list[i].f)
	}
	return out, nil
}

// fillFlag loads a flag's message, conversation, context and users.
func (s *Store) fillFlag(ctx context.Context, r *flagRow, users map[int64]*model.User) error {
	m, err := s.Message(ctx, r.msgID)
	if err != nil {
		return err
	}
	r.f.Message = m
	r.f.Conversation.ID = m.ConversationID
	if err := s.r.QueryRowContext(ctx, `SELECT name FROM conversations WHERE id = ?`, m.ConversationID).Scan(&r.f.Conversation.Name); err != nil {
		return fmt.Errorf("store: flag conversation: %w", mapErr(err))
	}
	before, err := s.r.QueryContext(ctx, `SELECT `+msgCols+` FROM messages m JOIN users u ON u.id = m.sender_id
		WHERE m.conversation_id = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT 2`, m.ConversationID, m.Seq)
	if err != nil {
		return fmt.Errorf("store: flag context: %w", err)
	}
	bp, err := collect(before, 2)
	if err != nil {
		return err
	}
	after, err := s.r.QueryContext(ctx, `SELECT `+msgCols+` FROM messages m JOIN users u ON u.id = m.sender_id
		WHERE m.conversation_id = ? AND m.seq > ? ORDER BY m.seq LIMIT 2`, m.ConversationID, m.Seq)
	if err != nil {
		return fmt.Errorf("store: flag context: %w", err)
	}
	ap, err := collect(after, 2)
	if err != nil {
		return err
	}
	r.f.Context = make([]model.Message, 0, len(bp.Messages)+len(ap.Messages))
	for i := len(bp.Messages) - 1; i >= 0; i-- {
		r.f.Context = append(r.f.Context, bp.Messages[i])
	}
	r.f.Context = append(r.f.Context, ap.Messages...)
	if err := hydrate(ctx, s.r, r.f.Context); err != nil {
		return err
	}
	user := func(id sql.NullInt64) (*model.User, error) {
		if !id.Valid {
			return nil, nil
		}
		if u, ok := users[id.Int64]; ok {
			return u, nil
		}
		rec, err := s.UserByID(ctx, id.Int64)
		var u *model.User
		if err == nil {
			u = &rec.User
		} else if !errors.Is(err, model.ErrNotFound) {
			return nil, err
		}
		users[id.Int64] = u
		return u, nil
	}
	if r.f.Reporter, err = user(r.reporter); err != nil {
		return err
	}
	r.f.ResolvedBy, err = user(r.resolvedBy)
	return err
}
