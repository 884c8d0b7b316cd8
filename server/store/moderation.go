package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"teamchat/server/model"
)

// Settings keys of moderation.
const (
	SettingPaused   = "paused"    // "true": only admins can post
	SettingDMPolicy = "dm_policy" // model.DMPolicy*
)

// ---- checks inside the group commit (see batchState.append) ----

// convInfo is what the commit needs to know about a conversation.
type convInfo struct {
	locked   bool
	direct   bool
	slowMode int64 // seconds
	missing  bool
	stored   bool // a message of this batch went in: its last_seq is written back
}

// modStmts are the moderation checks of the message hot path.
type modStmts struct {
	settings, mute, lastPost, staffPeer *sql.Stmt
}

func prepareModeration(prep func(string) *sql.Stmt) modStmts {
	return modStmts{
		settings: prep(`SELECT key, value FROM settings WHERE key IN ('` + SettingPaused + `', '` + SettingDMPolicy + `')`),
		mute:     prep(`SELECT user_id, until FROM mutes WHERE conversation_id = ? AND until > ?`),
		lastPost: prep(`SELECT max(created_at) FROM messages WHERE conversation_id = ? AND sender_id = ?`),
		staffPeer: prep(`SELECT count(*) FROM conversation_members m JOIN users u ON u.id = m.user_id
			WHERE m.conversation_id = ? AND m.user_id <> ? AND u.role = 'admin'`),
	}
}

func (m modStmts) in(tx *sql.Tx) modStmts {
	return modStmts{settings: tx.Stmt(m.settings), mute: tx.Stmt(m.mute), lastPost: tx.Stmt(m.lastPost), staffPeer: tx.Stmt(m.staffPeer)}
}

// modState caches, within one commit, the class settings and each sender's
// newest message time per conversation (including messages of this batch).
type modState struct {
	loaded   bool
	paused   bool
	dmPolicy string
	lastPost map[[2]int64]int64        // (sender, conversation) → newest created_at (unix ms); 0 = none
	mutes    map[int64]map[int64]int64 // conversation → muted user → end of the mute (active mutes only)
	pairs    map[int64]bool            // group → a pair of students (grouppolicy.go)
}

// Client-safe refusals of the moderation checks.
const (
	MsgPaused      = "the class is paused by the professor"
	MsgDMsOff      = "direct messages are turned off in this class"
	MsgDMsStaff    = "in this class you can send direct messages only to staff"
	msgMutedPrefix = "you are muted in this conversation until "
)

func (b *batchState) loadSettings() error {
	if b.mod.loaded {
		return nil
	}
	rows, err := b.st.mod.settings.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	b.mod.dmPolicy = model.DMPolicyAnyone
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		switch k {
		case SettingPaused:
			b.mod.paused = v == "true"
		case SettingDMPolicy:
			if v != "" {
				b.mod.dmPolicy = v
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	b.mod.loaded = true
	return nil
}

// checkPaused refuses everybody but admins while the class is paused.
func (b *batchState) checkPaused(isAdmin bool) error {
	if isAdmin {
		return nil
	}
	if err := b.loadSettings(); err != nil {
		return err
	}
	if b.mod.paused {
		return model.Forbidden(MsgPaused)
	}
	return nil
}

// moderate applies the direct-message policy, mutes and slow mode to a
// sender who is not an admin. Owners are exempt from mutes and slow mode.
func (b *batchState) moderate(a Append, conv convInfo, isAdmin bool, memberRole string, t int64) error {
	if isAdmin {
		return nil
	}
	if conv.direct {
		if err := b.loadSettings(); err != nil {
			return err
		}
		switch b.mod.dmPolicy {
		case model.DMPolicyNone:
			return model.Forbidden(MsgDMsOff)
		case model.DMPolicyStaff:
			var n int
			if err := b.st.mod.staffPeer.QueryRow(a.ConversationID, a.SenderID).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return model.Forbidden(MsgDMsStaff)
			}
		}
	} else {
		if err := b.loadSettings(); err != nil {
			return err
		}
		if err := b.checkPairGroup(a.ConversationID); err != nil {
			return err
		}
	}
	if memberRole == model.MemberOwner {
		return nil
	}
	key := [2]int64{a.SenderID, a.ConversationID}
	muted, ok := b.mod.mutes[a.ConversationID]
	if !ok {
		// One read per conversation and batch: mutes are rare, so this is
		// usually an empty answer shared by every sender of the batch.
		var err error
		if muted, err = b.activeMutes(a.ConversationID, t); err != nil {
			return err
		}
		if b.mod.mutes == nil {
			b.mod.mutes = map[int64]map[int64]int64{}
		}
		b.mod.mutes[a.ConversationID] = muted
	}
	until := muted[a.SenderID]
	if until > 0 {
		return model.Forbidden("%s%s", msgMutedPrefix, FormatTime(until))
	}
	if conv.slowMode <= 0 {
		return nil
	}
	last, ok := b.mod.lastPost[key]
	if !ok {
		var v sql.NullInt64
		if err := b.st.mod.lastPost.QueryRow(a.ConversationID, a.SenderID).Scan(&v); err != nil {
			return err
		}
		last = v.Int64
	}
	if last == 0 {
		return nil
	}
	if wait := min(last+conv.slowMode*1000-t, conv.slowMode*1000); wait > 0 { // min: the clock may have gone back
		secs := (wait + 999) / 1000
		return model.RateLimited(fmt.Sprintf("slow mode: wait %d s", secs), time.Duration(wait)*time.Millisecond)
	}
	return nil
}

// activeMutes reads a conversation's active mutes (user → end).
func (b *batchState) activeMutes(convID, t int64) (map[int64]int64, error) {
	rows, err := b.st.mod.mute.Query(convID, t)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var m map[int64]int64
	for rows.Next() {
		var uid, until int64
		if err := rows.Scan(&uid, &until); err != nil {
			return nil, err
		}
		if m == nil {
			m = map[int64]int64{}
		}
		m[uid] = until
	}
	return m, rows.Err()
}

// posted records a stored message's time for the slow-mode check of later
// messages in the same batch.
func (b *batchState) posted(key [2]int64, t int64) {
	if b.mod.lastPost == nil {
		b.mod.lastPost = map[[2]int64]int64{}
	}
	b.mod.lastPost[key] = t
}

// FormatTime writes unix milliseconds as the wire's RFC 3339 time.
func FormatTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format(model.TimeLayout)
}

// ---- audit log ----

// AuditEntry is one record to append to the audit log.
type AuditEntry struct {
	ActorID    int64 // 0: the command line / the system
	Action     string
	TargetType string
	TargetID   int64 // 0: none
	Details    any   // marshalled as a JSON object; nil → {}
}

// AuditRecord is a stored audit entry as the API shows it.
type AuditRecord struct {
	ID         int64           `json:"id"`
	Actor      *model.User     `json:"actor"` // null for the command line
	Action     string          `json:"action"`
	TargetType string          `json:"target_type"`
	TargetID   *int64          `json:"target_id"`
	Details    json.RawMessage `json:"details"`
	CreatedAt  model.Time      `json:"created_at"`
}

// AuditPage is one page of the audit log, newest first.
type AuditPage struct {
	Entries []AuditRecord `json:"entries"`
	HasMore bool          `json:"has_more"`
}

// AuditFilter selects audit entries; zero values match everything.
type AuditFilter struct {
	Action   string
	ActorID  int64
	BeforeID int64
	Limit    int
}

func nullID(id int64) any {
	if id <= 0 {
		return nil
	}
	return id
}

func insertAuditTx(tx *sql.Tx, e AuditEntry) error {
	details := []byte("{}")
	if e.Details != nil {
		var err error
		if details, err = json.Marshal(e.Details); err != nil {
			return fmt.Errorf("audit details: %w", err)
		}
	}
	_, err := tx.Exec(`INSERT INTO audit_log (actor_id, action, target_type, target_id, details, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		nullID(e.ActorID), e.Action, e.TargetType, nullID(e.TargetID), string(details), now())
	return err
}

// AppendAudit stores one audit entry. Entries are never changed or deleted
// (the table's triggers refuse it).
func (s *Store) AppendAudit(ctx context.Context, e AuditEntry) error {
	if err := s.tx(ctx, func(tx *sql.Tx) error { return insertAuditTx(tx, e) }); err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// AuditLog returns entries matching f, newest first.
func (s *Store) AuditLog(ctx context.Context, f AuditFilter) (AuditPage, error) {
	page := AuditPage{Entries: []AuditRecord{}}
	rows, err := s.r.QueryContext(ctx, `SELECT id, actor_id, action, target_type, target_id, details, created_at FROM audit_log
		WHERE (?1 = '' OR action = ?1) AND (?2 = 0 OR actor_id = ?2) AND (?3 = 0 OR id < ?3)
		ORDER BY id DESC LIMIT ?4`, f.Action, f.ActorID, f.BeforeID, f.Limit+1)
	if err != nil {
		return page, fmt.Errorf("store: audit log: %w", err)
	}
	var actorIDs []sql.NullInt64
	for rows.Next() {
		var r AuditRecord
		var actor, target sql.NullInt64
		var details string
		var created int64
		if err := rows.Scan(&r.ID, &actor, &r.Action, &r.TargetType, &target, &details, &created); err != nil {
			rows.Close()
			return page, fmt.Errorf("store: audit log: %w", err)
		}
		if len(page.Entries) == f.Limit {
			page.HasMore = true
			break
		}
		if target.Valid {
			r.TargetID = &target.Int64
		}
		r.Details = json.RawMessage(details)
		r.CreatedAt = model.Millis(created)
		page.Entries = append(page.Entries, r)
		actorIDs = append(actorIDs, actor)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return page, err
	}
	users := map[int64]*model.User{}
	for i, id := range actorIDs {
		if !id.Valid {
			continue
		}
		u, ok := users[id.Int64]
		if !ok {
			rec, err := s.UserByID(ctx, id.Int64)
			if err == nil {
				u = &rec.User
			} else if !errors.Is(err, model.ErrNotFound) {
				return page, err
			}
			users[id.Int64] = u
		}
		page.Entries[i].Actor = u
	}
	return page, nil
}

// ---- mutes ----

// Mute is an active mute.
type Mute struct {
	User  model.User `json:"user"`
	Until model.Time `json:"until"`
}

// SetMute mutes userID in convID until the given time (replacing an earlier
// mute) and records the audit entry in the same transaction.
func (s *Store) SetMute(ctx context.Context, convID, userID, until, by int64, audit AuditEntry) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO mutes (conversation_id, user_id, until, muted_by, created_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (conversation_id, user_id) DO UPDATE SET until = excluded.until, muted_by = excluded.muted_by, created_at = excluded.created_at`,
			convID, userID, until, by, now()); err != nil {
			return err
		}
		return insertAuditTx(tx, audit)
	})
	if err != nil {
		return fmt.Errorf("store: mute: %w", err)
	}
	return nil
}

// ClearMute ends userID's mute in convID. It reports whether an active mute
// ended; only then is the audit entry recorded (same transaction).
func (s *Store) ClearMute(ctx context.Context, convID, userID int64, audit AuditEntry) (bool, error) {
	var active bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var until int64
		err := tx.QueryRow(`DELETE FROM mutes WHERE conversation_id = ? AND user_id = ? RETURNING until`, convID, userID).Scan(&until)
		if err == sql.ErrNoRows {
			return nil
		}
		if err != nil {
			return err
		}
		if until > now() {
			active = true
			return insertAuditTx(tx, audit)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: unmute: %w", err)
	}
	return active, nil
}

// Mutes lists the active mutes of a conversation, soonest end first.
func (s *Store) Mutes(ctx context.Context, convID int64) ([]Mute, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userCols+`, x.until FROM mutes x JOIN users u ON u.id = x.user_id
		WHERE x.conversation_id = ? AND x.until > ? ORDER BY x.until, u.id`, convID, now())
	if err != nil {
		return nil, fmt.Errorf("store: mutes: %w", err)
	}
	defer rows.Close()
	out := []Mute{}
	for rows.Next() {
		var u UserRecord
		var created, until int64
		var disabled int
		if err := rows.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &created, &disabled, &u.PasswordHash, &u.ExpiresAt, &u.TokenEpoch, &until); err != nil {
			return nil, fmt.Errorf("store: mutes: %w", err)
		}
		u.CreatedAt = model.Millis(created)
		u.Disabled = disabled != 0
		out = append(out, Mute{User: u.User, Until: model.Millis(until)})
	}
	return out, rows.Err()
}

// ---- pins ----

// SetPinned pins or unpins a message that is not deleted. It reports whether
// anything changed; only then is the audit entry recorded (same transaction).
// Pinning a deleted message answers ErrInvalid.
func (s *Store) SetPinned(ctx context.Context, msgID, by int64, pinned bool, audit AuditEntry) (bool, error) {
	var changed bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var deleted int
		var pinnedAt sql.NullInt64
		if err := tx.QueryRow(`SELECT deleted, pinned_at FROM messages WHERE id = ?`, msgID).Scan(&deleted, &pinnedAt); err != nil {
			return err
		}
		if deleted != 0 && pinned {
			return model.Invalid("a deleted message cannot be pinned")
		}
		var err error
		switch {
		case pinned && !pinnedAt.Valid:
			// Strictly after the conversation's newest pin, so "newest pin first" is the pinning order.
			_, err = tx.Exec(`UPDATE messages SET pinned_by = ?2, pinned_at = max(?3, 1 + COALESCE(
				(SELECT max(p.pinned_at) FROM messages p WHERE p.conversation_id = messages.conversation_id AND p.pinned_at IS NOT NULL), 0))
				WHERE id = ?1`, msgID, by, now())
		case !pinned && pinnedAt.Valid:
			_, err = tx.Exec(`UPDATE messages SET pinned_at = NULL, pinned_by = NULL WHERE id = ?`, msgID)
		default:
			return nil
		}
		if err != nil {
			return err
		}
		changed = true
		return insertAuditTx(tx, audit)
	})
	if err != nil {
		return false, fmt.Errorf("store: pin message %d: %w", msgID, err)
	}
	return changed, nil
}

// Pins lists a conversation's pinned messages that are not deleted, newest pin first.
func (s *Store) Pins(ctx context.Context, convID int64) ([]model.Message, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+msgCols+` FROM messages m JOIN users u ON u.id = m.sender_id
		WHERE m.conversation_id = ? AND m.pinned_at IS NOT NULL AND m.deleted = 0 ORDER BY m.pinned_at DESC, m.id DESC`, convID)
	if err != nil {
		return nil, fmt.Errorf("store: pins: %w", err)
	}
	page, err := collect(rows, 1<<30)
	if err != nil {
		return nil, err
	}
	return page.Messages, hydrate(ctx, s.r, page.Messages)
}

// GroupConversationIDs lists every group conversation (announcements go there).
func (s *Store) GroupConversationIDs(ctx context.Context) ([]int64, error) {
	return s.queryIDs(ctx, "group conversations", `SELECT id FROM conversations WHERE kind = 'group' ORDER BY id`)
}
