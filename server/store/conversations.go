package store

import (
	"context"
	"database/sql"
	"fmt"

	"teamchat/server/model"
)

const convCols = `c.id, c.name, c.kind, c.created_at, c.locked, c.auto_join, c.last_seq, c.slow_mode_seconds`

func scanConv(sc scanner, extra ...any) (model.Conversation, error) {
	var c model.Conversation
	var created int64
	var locked, auto int
	dest := append([]any{&c.ID, &c.Name, &c.Kind, &created, &locked, &auto, &c.LastSeq, &c.SlowMode}, extra...)
	err := sc.Scan(dest...)
	c.CreatedAt = model.Millis(created)
	c.Locked = locked != 0
	c.AutoJoin = auto != 0
	return c, err
}

// NewConversation is what CreateConversation stores.
type NewConversation struct {
	Name      string
	Kind      string
	CreatorID int64
	MemberIDs []int64 // besides the creator
	AutoJoin  bool
	DirectKey string // set for direct conversations
}

// CreateConversation stores a conversation with its creator as owner and the
// other members. For an auto-join conversation every active account joins.
// Members that do not exist or are disabled answer ErrInvalid.
func (s *Store) CreateConversation(ctx context.Context, nc NewConversation) (model.Conversation, error) {
	var c model.Conversation
	err := s.tx(ctx, func(tx *sql.Tx) error {
		t := now()
		var dk any
		if nc.DirectKey != "" {
			dk = nc.DirectKey
		}
		res, err := tx.Exec(`INSERT INTO conversations (name, kind, created_at, auto_join, direct_key) VALUES (?, ?, ?, ?, ?)`,
			nc.Name, nc.Kind, t, boolInt(nc.AutoJoin), dk)
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		ownerRole := model.MemberOwner
		if nc.Kind == model.KindDirect {
			ownerRole = model.MemberMember
		}
		if nc.CreatorID > 0 {
			if _, err := tx.Exec(`INSERT INTO conversation_members (conversation_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)`, id, nc.CreatorID, ownerRole, t); err != nil {
				return err
			}
		}
		for _, uid := range nc.MemberIDs {
			if uid == nc.CreatorID {
				continue
			}
			var ok int
			if err := tx.QueryRow(`SELECT count(*) FROM users WHERE id = ? AND disabled = 0`, uid).Scan(&ok); err != nil {
				return err
			}
			if ok == 0 {
				return model.Invalid("member_ids: no active user %d", uid)
			}
			if _, err := tx.Exec(`INSERT OR IGNORE INTO conversation_members (conversation_id, user_id, role, joined_at) VALUES (?, ?, 'member', ?)`, id, uid, t); err != nil {
				return err
			}
		}
		if nc.AutoJoin {
			if _, err := tx.Exec(`INSERT OR IGNORE INTO conversation_members (conversation_id, user_id, role, joined_at)
				SELECT ?, id, 'member', ? FROM users WHERE disabled = 0`, id, t); err != nil {
				return err
			}
		}
		c, err = scanConv(tx.QueryRow(`SELECT `+convCols+` FROM conversations c WHERE c.id = ?`, id))
		return err
	})
	if err != nil {
		return c, fmt.Errorf("store: create conversation: %w", err)
	}
	return c, nil
}

// DirectConversation returns the direct conversation with the given key, or ErrNotFound.
func (s *Store) DirectConversation(ctx context.Context, key string) (model.Conversation, error) {
	c, err := scanConv(s.r.QueryRowContext(ctx, `SELECT `+convCols+` FROM conversations c WHERE c.direct_key = ? AND c.deleted_at IS NULL`, key))
	if err != nil {
		return c, fmt.Errorf("store: direct conversation: %w", mapErr(err))
	}
	return c, nil
}

// Conversation returns one conversation, or ErrNotFound (also when it is in the trash).
func (s *Store) Conversation(ctx context.Context, id int64) (model.Conversation, error) {
	c, err := scanConv(s.r.QueryRowContext(ctx, `SELECT `+convCols+` FROM conversations c WHERE c.id = ? AND c.deleted_at IS NULL`, id))
	if err != nil {
		return c, fmt.Errorf("store: conversation %d: %w", id, mapErr(err))
	}
	return c, nil
}

// ListConversations returns the conversations of userID (all of them when all
// is true), with the caller's unread count, member role and last message.
func (s *Store) ListConversations(ctx context.Context, userID int64, all bool) ([]model.Conversation, error) {
	q := `SELECT ` + convCols + `, m.role, COALESCE(r.seq, 0), ` + callerFlagCols + `
		FROM conversations c
		LEFT JOIN conversation_members m ON m.conversation_id = c.id AND m.user_id = ?1
		LEFT JOIN read_markers r ON r.conversation_id = c.id AND r.user_id = ?1
		WHERE (?2 OR m.user_id IS NOT NULL) AND c.deleted_at IS NULL
		ORDER BY c.id`
	rows, err := s.r.QueryContext(ctx, q, userID, all)
	if err != nil {
		return nil, fmt.Errorf("store: list conversations: %w", err)
	}
	convs := []model.Conversation{}
	for rows.Next() {
		var role sql.NullString
		var read int64
		var mentions int64
		var muted bool
		c, err := scanConv(rows, &role, &read, &mentions, &muted)
		c.UnreadMentions, c.NotificationsMuted = mentions, muted
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: list conversations: %w", err)
		}
		unread := max(c.LastSeq-read, 0)
		c.Unread = &unread
		if role.Valid {
			r := role.String
			c.MemberRole = &r
		}
		convs = append(convs, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range convs {
		if convs[i].LastSeq == 0 {
			continue
		}
		m, err := scanMessage(s.r.QueryRowContext(ctx, `SELECT `+msgCols+` FROM messages m JOIN users u ON u.id = m.sender_id
			WHERE m.conversation_id = ? AND m.seq = ?`, convs[i].ID, convs[i].LastSeq))
		if err == nil {
			convs[i].LastMsg = &m
		} else if err != sql.ErrNoRows {
			return nil, fmt.Errorf("store: last message: %w", err)
		}
	}
	var last []model.Message
	for _, c := range convs {
		if c.LastMsg != nil {
			last = append(last, *c.LastMsg)
		}
	}
	if err := hydrate(ctx, s.r, last); err != nil {
		return nil, err
	}
	for i, j := 0, 0; i < len(convs); i++ {
		if convs[i].LastMsg != nil {
			convs[i].LastMsg = &last[j]
			j++
		}
	}
	return convs, nil
}

// ConversationPatch holds optional changes.
type ConversationPatch struct {
	Name     *string
	Locked   *bool
	AutoJoin *bool
	SlowMode *int // seconds, 0 = off
}

// UpdateConversation applies p and returns the result.
func (s *Store) UpdateConversation(ctx context.Context, id int64, p ConversationPatch) (model.Conversation, error) {
	var c model.Conversation
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = scanConv(tx.QueryRow(`SELECT `+convCols+` FROM conversations c WHERE c.id = ?`, id)); err != nil {
			return err
		}
		if p.Name != nil {
			c.Name = *p.Name
		}
		if p.Locked != nil {
			c.Locked = *p.Locked
		}
		if p.AutoJoin != nil {
			c.AutoJoin = *p.AutoJoin
		}
		if p.SlowMode != nil {
			c.SlowMode = *p.SlowMode
		}
		_, err = tx.Exec(`UPDATE conversations SET name = ?, locked = ?, auto_join = ?, slow_mode_seconds = ? WHERE id = ?`,
			c.Name, boolInt(c.Locked), boolInt(c.AutoJoin), c.SlowMode, id)
		return err
	})
	if err != nil {
		return c, fmt.Errorf("store: update conversation %d: %w", id, err)
	}
	return c, nil
}

// MemberRole returns the role of userID in convID, or "" when not a member.
func (s *Store) MemberRole(ctx context.Context, convID, userID int64) (string, error) {
	var role string
	err := s.r.QueryRowContext(ctx, `SELECT role FROM conversation_members WHERE conversation_id = ? AND user_id = ?`, convID, userID).Scan(&role)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return role, err
}

// Members lists a conversation's members.
func (s *Store) Members(ctx context.Context, convID int64) ([]*model.Member, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userCols+`, m.role, m.joined_at FROM conversation_members m
		JOIN users u ON u.id = m.user_id WHERE m.conversation_id = ? ORDER BY m.joined_at, u.id`, convID)
	if err != nil {
		return nil, fmt.Errorf("store: members: %w", err)
	}
	defer rows.Close()
	members := []*model.Member{}
	for rows.Next() {
		var m model.Member
		var joined int64
		var u UserRecord
		var created int64
		var disabled int
		if err := rows.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &created, &disabled, &u.PasswordHash, &u.ExpiresAt, &u.TokenEpoch, &m.Role, &joined); err != nil {
			return nil, fmt.Errorf("store: members: %w", err)
		}
		u.CreatedAt = model.Millis(created)
		u.Disabled = disabled != 0
		m.User = u.User
		m.JoinedAt = model.Millis(joined)
		members = append(members, &m)
	}
	return members, rows.Err()
}

// MemberIDs lists the user ids of a conversation's members.
func (s *Store) MemberIDs(ctx context.Context, convID int64) ([]int64, error) {
	return s.queryIDs(ctx, "member ids", `SELECT user_id FROM conversation_members WHERE conversation_id = ?`, convID)
}

// AddMember adds userID to convID (an active user) and returns the membership.
// Adding an existing member answers ErrConflict.
func (s *Store) AddMember(ctx context.Context, convID, userID int64, role string) (*model.Member, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var ok int
		if err := tx.QueryRow(`SELECT count(*) FROM users WHERE id = ? AND disabled = 0`, userID).Scan(&ok); err != nil {
			return err
		}
		if ok == 0 {
			return model.Invalid("user_id: no active user %d", userID)
		}
		_, err := tx.Exec(`INSERT INTO conversation_members (conversation_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)`, convID, userID, role, now())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: add member: %w", err)
	}
	ms, err := s.Members(ctx, convID)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.User.ID == userID {
			return m, nil
		}
	}
	return nil, model.NotFound("member")
}

// RemoveMember removes userID from convID; ErrNotFound when not a member.
func (s *Store) RemoveMember(ctx context.Context, convID, userID int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM conversation_members WHERE conversation_id = ? AND user_id = ?`, convID, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return model.NotFound("member")
		}
		_, err = tx.Exec(`DELETE FROM read_markers WHERE conversation_id = ? AND user_id = ?`, convID, userID)
		return err
	})
}

// SetRead moves the user's read marker forward to seq (never backwards, never past last_seq).
func (s *Store) SetRead(ctx context.Context, userID, convID, seq int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO read_markers (user_id, conversation_id, seq)
			SELECT ?1, ?2, min(?3, last_seq) FROM conversations WHERE id = ?2
			ON CONFLICT (user_id, conversation_id) DO UPDATE SET seq = max(seq, excluded.seq)`, userID, convID, seq)
		return err
	})
}

// AutoJoinConversations lists the ids of the conversations every new account joins.
func (s *Store) AutoJoinConversations(ctx context.Context) ([]int64, error) {
	return s.queryIDs(ctx, "auto-join conversations", `SELECT id FROM conversations WHERE auto_join = 1 AND deleted_at IS NULL ORDER BY id`)
}
