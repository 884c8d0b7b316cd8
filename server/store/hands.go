package store

import (
	"context"
	"database/sql"
	"fmt"

	"teamchat/server/model"
)

// Raised hands: hand_events is an append-only log; a user's hand is up while
// their newest event in the conversation is a raise, and the queue is those
// raises in the order they were made.

// Reasons a hand went down.
const (
	HandSelf    = "self"    // its user lowered it
	HandNext    = "next"    // staff called on it ("next")
	HandLowered = "lowered" // staff lowered this one
	HandAll     = "all"     // staff lowered every hand
)

// Hand is a raised hand in a conversation's queue; Place starts at 1.
type Hand struct {
	ConversationID int64      `json:"conversation_id"`
	User           model.User `json:"user"`
	RaisedAt       model.Time `json:"raised_at"`
	Place          int        `json:"place"`
}

// HandEvent is one stored raise or lower, for transcripts and participation.
type HandEvent struct {
	ID             int64       `json:"id"`
	ConversationID int64       `json:"conversation_id"`
	User           model.User  `json:"user"`
	Raised         bool        `json:"raised"`
	Reason         string      `json:"reason,omitempty"`
	By             *model.User `json:"by,omitempty"` // who lowered it, when not its user
	CreatedAt      model.Time  `json:"created_at"`
}

const handQueue = `SELECT ` + userCols + `, e.created_at FROM hand_events e JOIN users u ON u.id = e.user_id
	WHERE e.conversation_id = ? AND e.raised = 1 AND NOT EXISTS (SELECT 1 FROM hand_events l
		WHERE l.conversation_id = e.conversation_id AND l.user_id = e.user_id AND l.id > e.id)
	ORDER BY e.id`

func hands(ctx context.Context, q rowsQuerier, convID int64) ([]Hand, error) {
	rows, err := q.QueryContext(ctx, handQueue, convID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Hand{}
	for rows.Next() {
		var u UserRecord
		var created, raised int64
		var disabled int
		if err := rows.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &created, &disabled, &u.PasswordHash, &u.ExpiresAt, &u.TokenEpoch, &raised); err != nil {
			return nil, err
		}
		u.CreatedAt = model.Millis(created)
		u.Disabled = disabled != 0
		out = append(out, Hand{ConversationID: convID, User: u.User, RaisedAt: model.Millis(raised), Place: len(out) + 1})
	}
	return out, rows.Err()
}

// Hands is a conversation's queue of raised hands, first raised first.
func (s *Store) Hands(ctx context.Context, convID int64) ([]Hand, error) {
	h, err := hands(ctx, s.r, convID)
	if err != nil {
		return nil, fmt.Errorf("store: hands: %w", err)
	}
	return h, nil
}

func handUp(tx *sql.Tx, convID, userID int64) (bool, error) {
	var raised int
	err := tx.QueryRow(`SELECT raised FROM hand_events WHERE conversation_id = ? AND user_id = ? ORDER BY id DESC LIMIT 1`,
		convID, userID).Scan(&raised)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return raised == 1, err
}

func findHand(queue []Hand, userID int64) (Hand, bool) {
	for _, h := range queue {
		if h.User.ID == userID {
			return h, true
		}
	}
	return Hand{}, false
}

// RaiseHand puts userID's hand up in convID, after the rules of every write
// but sending (membership, the class pause, mutes: writeRefusal) checked in
// the same transaction. A hand already up stays where it is (raised false).
// The answer is the hand with its place and the whole queue after it.
func (s *Store) RaiseHand(ctx context.Context, convID, userID int64) (h Hand, raised bool, queue []Hand, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := writeRefusal(ctx, tx, convID, userID); err != nil {
			return err
		}
		up, err := handUp(tx, convID, userID)
		if err != nil {
			return err
		}
		if !up {
			if _, err := tx.Exec(`INSERT INTO hand_events (conversation_id, user_id, raised, created_at) VALUES (?, ?, 1, ?)`,
				convID, userID, now()); err != nil {
				return err
			}
			raised = true
		}
		if queue, err = hands(ctx, tx, convID); err != nil {
			return err
		}
		h, _ = findHand(queue, userID)
		return nil
	})
	if err != nil {
		return h, false, nil, fmt.Errorf("store: raise hand: %w", err)
	}
	return h, raised, queue, nil
}

func lowerTx(tx *sql.Tx, convID, userID, by int64, reason string) error {
	var byID any
	if by != userID {
		byID = by
	}
	_, err := tx.Exec(`INSERT INTO hand_events (conversation_id, user_id, raised, reason, by_user_id, created_at) VALUES (?, ?, 0, ?, ?, ?)`,
		convID, userID, reason, byID, now())
	return err
}

// LowerHand puts userID's hand down (by: who does it; reason HandSelf or
// HandLowered). lowered is false when it was not up; nothing is stored then.
func (s *Store) LowerHand(ctx context.Context, convID, userID, by int64, reason string) (lowered bool, queue []Hand, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		up, err := handUp(tx, convID, userID)
		if err != nil || !up {
			return err
		}
		if err := lowerTx(tx, convID, userID, by, reason); err != nil {
			return err
		}
		lowered = true
		queue, err = hands(ctx, tx, convID)
		return err
	})
	if err != nil {
		return false, nil, fmt.Errorf("store: lower hand: %w", err)
	}
	return lowered, queue, nil
}

// NextHand lowers the first hand of the queue (reason HandNext) and returns
// it; ok is false when no hand is up.
func (s *Store) NextHand(ctx context.Context, convID, by int64) (first Hand, ok bool, queue []Hand, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		q, err := hands(ctx, tx, convID)
		if err != nil || len(q) == 0 {
			return err
		}
		first, ok = q[0], true
		if err := lowerTx(tx, convID, first.User.ID, by, HandNext); err != nil {
			return err
		}
		queue, err = hands(ctx, tx, convID)
		return err
	})
	if err != nil {
		return first, false, nil, fmt.Errorf("store: next hand: %w", err)
	}
	return first, ok, queue, nil
}

// LowerAllHands lowers every hand of convID (reason HandAll) and returns
// whose they were, in queue order.
func (s *Store) LowerAllHands(ctx context.Context, convID, by int64) ([]int64, error) {
	var ids []int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		q, err := hands(ctx, tx, convID)
		if err != nil {
			return err
		}
		for _, h := range q {
			if err := lowerTx(tx, convID, h.User.ID, by, HandAll); err != nil {
				return err
			}
			ids = append(ids, h.User.ID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: lower all hands: %w", err)
	}
	return ids, nil
}

// HandEvents lists the raise and lower events of convID (0: every
// conversation) created in [since, until) (nil: open), in order.
func (s *Store) HandEvents(ctx context.Context, convID int64, since, until *int64) ([]HandEvent, error) {
	q := `SELECT e.id, e.conversation_id, e.raised, e.reason, e.created_at, ` + userCols + `,
		COALESCE(b.id, 0), COALESCE(b.username, ''), COALESCE(b.display_name, ''), COALESCE(b.role, ''), COALESCE(b.created_at, 0), COALESCE(b.disabled, 0)
		FROM hand_events e JOIN users u ON u.id = e.user_id LEFT JOIN users b ON b.id = e.by_user_id
		WHERE (? = 0 OR e.conversation_id = ?) AND (? IS NULL OR e.created_at >= ?) AND (? IS NULL OR e.created_at < ?)
		ORDER BY e.conversation_id, e.id`
	rows, err := s.r.QueryContext(ctx, q, convID, convID, since, since, until, until)
	if err != nil {
		return nil, fmt.Errorf("store: hand events: %w", err)
	}
	defer rows.Close()
	out := []HandEvent{}
	for rows.Next() {
		var e HandEvent
		var u UserRecord
		var b model.User
		var created, ucreated, bcreated int64
		var raised, udis, bdis int
		if err := rows.Scan(&e.ID, &e.ConversationID, &raised, &e.Reason, &created,
			&u.ID, &u.Username, &u.DisplayName, &u.Role, &ucreated, &udis, &u.PasswordHash, &u.ExpiresAt, &u.TokenEpoch,
			&b.ID, &b.Username, &b.DisplayName, &b.Role, &bcreated, &bdis); err != nil {
			return nil, fmt.Errorf("store: hand events: %w", err)
		}
		e.Raised, e.CreatedAt = raised == 1, model.Millis(created)
		u.CreatedAt, u.Disabled = model.Millis(ucreated), udis != 0
		e.User = u.User
		if b.ID != 0 {
			b.CreatedAt, b.Disabled = model.Millis(bcreated), bdis != 0
			e.By = &b
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
