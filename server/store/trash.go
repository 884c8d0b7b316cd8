package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"teamchat/server/model"
)

// TrashedConversation is a conversation in the trash as the trash list shows it.
type TrashedConversation struct {
	Conversation model.Conversation `json:"conversation"`
	DeletedAt    model.Time         `json:"deleted_at"`
	DeletedBy    *model.User        `json:"deleted_by"` // null when that account is gone
	PurgeAt      model.Time         `json:"purge_at"`   // set by the caller, who knows the retention
	MessageCount int64              `json:"message_count"`
	MemberCount  int64              `json:"member_count"`
}

// TrashConversation moves a conversation to the trash at the given time
// (unix ms): everything of it stays, hidden, until RestoreConversation or
// PurgeTrash. A conversation already in the trash answers ErrNotFound.
func (s *Store) TrashConversation(ctx context.Context, id, by, at int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE conversations SET deleted_at = ?, deleted_by = ?,
			trashed_direct_key = direct_key, direct_key = NULL
			WHERE id = ? AND deleted_at IS NULL`, at, by, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return model.NotFound("conversation")
		}
		return nil
	})
}

// RestoreConversation takes a conversation out of the trash and returns it.
// Not in the trash: ErrNotFound. A direct conversation whose two people have
// started a new one meanwhile: ErrConflict.
func (s *Store) RestoreConversation(ctx context.Context, id int64) (model.Conversation, error) {
	var c model.Conversation
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE conversations SET deleted_at = NULL, deleted_by = NULL,
			direct_key = trashed_direct_key, trashed_direct_key = NULL
			WHERE id = ? AND deleted_at IS NOT NULL`, id)
		if err != nil {
			if errors.Is(mapErr(err), model.ErrConflict) {
				return model.Conflict("the two people of this direct conversation have a newer one")
			}
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return model.NotFound("conversation in the trash")
		}
		c, err = scanConv(tx.QueryRow(`SELECT `+convCols+` FROM conversations c WHERE c.id = ?`, id))
		return err
	})
	if err != nil {
		return c, fmt.Errorf("store: restore conversation %d: %w", id, err)
	}
	return c, nil
}

// Trash lists the conversations in the trash, most recently deleted first.
func (s *Store) Trash(ctx context.Context) ([]TrashedConversation, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+convCols+`, c.deleted_at,
		(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.deleted = 0),
		(SELECT count(*) FROM conversation_members cm WHERE cm.conversation_id = c.id),
		u.id, u.username, u.display_name, u.role, u.created_at, u.disabled
		FROM conversations c LEFT JOIN users u ON u.id = c.deleted_by
		WHERE c.deleted_at IS NOT NULL
		ORDER BY c.deleted_at DESC, c.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("store: trash: %w", err)
	}
	defer rows.Close()
	out := []TrashedConversation{}
	for rows.Next() {
		var t TrashedConversation
		var deleted int64
		var uid, ucreated sql.NullInt64
		var uname, udisplay, urole sql.NullString
		var udisabled sql.NullBool
		c, err := scanConv(rows, &deleted, &t.MessageCount, &t.MemberCount, &uid, &uname, &udisplay, &urole, &ucreated, &udisabled)
		if err != nil {
			return nil, fmt.Errorf("store: trash: %w", err)
		}
		t.Conversation, t.DeletedAt = c, model.Millis(deleted)
		if uid.Valid {
			t.DeletedBy = &model.User{ID: uid.Int64, Username: uname.String, DisplayName: udisplay.String,
				Role: urole.String, CreatedAt: model.Millis(ucreated.Int64), Disabled: udisabled.Bool}
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// PurgedConversation is one conversation PurgeTrash erased.
type PurgedConversation struct {
	ID        int64
	Name      string
	Kind      string
	DeletedAt int64
}

// PurgeTrash erases for good the conversations trashed before the given time
// (unix ms), with their members, messages and everything else that cascades.
func (s *Store) PurgeTrash(ctx context.Context, before int64) ([]PurgedConversation, error) {
	var out []PurgedConversation
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.Query(`DELETE FROM conversations WHERE deleted_at IS NOT NULL AND deleted_at < ?
			RETURNING id, name, kind, deleted_at`, before)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p PurgedConversation
			if err := rows.Scan(&p.ID, &p.Name, &p.Kind, &p.DeletedAt); err != nil {
				return err
			}
			out = append(out, p)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: purge trash: %w", err)
	}
	return out, nil
}
