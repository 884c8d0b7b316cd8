package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"teamchat/server/model"
)

// Everyday features (issue 8): replies, mentions, reactions, edits and the
// loading of those onto message objects.

// rowsQuerier is what hydrate needs: the reader pool or a transaction.
type rowsQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// idList is the JSON array form of ids, for `IN (SELECT value FROM json_each(?))`.
func idList(ids []int64) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

// hydrate fills each message's reply preview, reply count, mentions,
// reactions and attachments with five queries for the whole slice.
// Deleted messages keep empty lists.
func hydrate(ctx context.Context, q rowsQuerier, ms []model.Message) error {
	if len(ms) == 0 {
		return nil
	}
	idx := make(map[int64]int, len(ms))
	ids := make([]int64, 0, len(ms))
	var replyIDs []int64
	for i := range ms {
		if ms[i].Deleted {
			continue
		}
		idx[ms[i].ID] = i
		ids = append(ids, ms[i].ID)
		if ms[i].ReplyTo != nil {
			replyIDs = append(replyIDs, ms[i].ReplyTo.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	list := idList(ids)
	each := func(what, query string, arg any, fn func(*sql.Rows) error) error {
		rows, err := q.QueryContext(ctx, query, arg)
		if err != nil {
			return fmt.Errorf("store: load %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := fn(rows); err != nil {
				return fmt.Errorf("store: load %s: %w", what, err)
			}
		}
		return rows.Err()
	}
	if err := each("reply counts", `SELECT reply_to, count(*) FROM messages
		WHERE reply_to IN (SELECT value FROM json_each(?)) AND deleted = 0 GROUP BY reply_to`, list, func(r *sql.Rows) error {
		var id int64
		var n int
		if err := r.Scan(&id, &n); err != nil {
			return err
		}
		ms[idx[id]].ReplyCount = n
		return nil
	}); err != nil {
		return err
	}
	if err := each("mentions", `SELECT message_id, user_id FROM mentions
		WHERE message_id IN (SELECT value FROM json_each(?)) ORDER BY message_id, user_id`, list, func(r *sql.Rows) error {
		var id, uid int64
		if err := r.Scan(&id, &uid); err != nil {
			return err
		}
		m := &ms[idx[id]]
		m.Mentions = append(m.Mentions, uid)
		return nil
	}); err != nil {
		return err
	}
	if err := each("reactions", `SELECT message_id, emoji, user_id FROM reactions
		WHERE message_id IN (SELECT value FROM json_each(?)) ORDER BY message_id, created_at, user_id`, list, func(r *sql.Rows) error {
		var id, uid int64
		var emoji string
		if err := r.Scan(&id, &emoji, &uid); err != nil {
			return err
		}
		m := &ms[idx[id]]
		m.Reactions = addReaction(m.Reactions, emoji, uid)
		return nil
	}); err != nil {
		return err
	}
	if err := each("attachments", `SELECT message_id, `+attachmentCols+` FROM attachments
		WHERE message_id IN (SELECT value FROM json_each(?)) ORDER BY id`, list, func(r *sql.Rows) error {
		var id int64
		a, err := scanAttachment(r, &id)
		if err != nil {
			return err
		}
		m := &ms[idx[id]]
		m.Attachments = append(m.Attachments, a)
		return nil
	}); err != nil {
		return err
	}
	if len(replyIDs) == 0 {
		return nil
	}
	previews := map[int64]model.ReplyPreview{}
	if err := each("replied messages", `SELECT `+msgCols+` FROM messages m JOIN users u ON u.id = m.sender_id
		WHERE m.id IN (SELECT value FROM json_each(?))`, idList(replyIDs), func(r *sql.Rows) error {
		p, err := scanMessage(r)
		if err != nil {
			return err
		}
		previews[p.ID] = Preview(p)
		return nil
	}); err != nil {
		return err
	}
	for i := range ms {
		if ms[i].ReplyTo != nil {
			if p, ok := previews[ms[i].ReplyTo.ID]; ok {
				ms[i].ReplyTo = &p
			}
		}
	}
	return nil
}

// Preview is the quoted form of a message in a reply.
func Preview(m model.Message) model.ReplyPreview {
	body := m.Body
	if utf8.RuneCountInString(body) > 200 {
		r := []rune(body)
		body = string(r[:200])
	}
	if m.Deleted {
		body = ""
	}
	return model.ReplyPreview{ID: m.ID, Seq: m.Seq, Sender: m.Sender, Body: body, Deleted: m.Deleted}
}

// addReaction adds uid's emoji to list (kept in first-use order).
func addReaction(list []model.Reaction, emoji string, uid int64) []model.Reaction {
	for i := range list {
		if list[i].Emoji == emoji {
			list[i].Count++
			list[i].UserIDs = append(list[i].UserIDs, uid)
			return list
		}
	}
	return append(list, model.Reaction{Emoji: emoji, Count: 1, UserIDs: []int64{uid}})
}

// ---- replies, mentions and attachments at send time (inside the commit) ----

// checkExtras validates a message's reply target and attachments before it
// gets a seq, and returns the quoted preview of the reply target (nil when not
// a reply).
func (b *batchState) checkExtras(a Append) (*model.ReplyPreview, error) {
	var quote *model.ReplyPreview
	if a.ReplyTo != 0 {
		p, err := scanMessage(b.tx.QueryRow(`SELECT `+msgCols+` FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.id = ?`, a.ReplyTo))
		if err == sql.ErrNoRows || (err == nil && p.ConversationID != a.ConversationID) {
			return nil, model.Invalid("reply_to: no such message in this conversation")
		}
		if err != nil {
			return nil, err
		}
		if p.Deleted {
			return nil, model.Invalid("reply_to: that message was deleted")
		}
		pv := Preview(p)
		quote = &pv
	}
	if len(a.AttachmentIDs) > 0 {
		rows, err := b.tx.Query(`SELECT id FROM attachments WHERE id IN (SELECT value FROM json_each(?))
			AND uploader_id = ? AND conversation_id = ? AND message_id IS NULL`,
			idList(a.AttachmentIDs), a.SenderID, a.ConversationID)
		if err != nil {
			return nil, err
		}
		usable := map[int64]bool{}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			usable[id] = true
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, err
		}
		for _, id := range a.AttachmentIDs {
			if !usable[id] {
				return nil, UnusableAttachment(id)
			}
		}
	}
	return quote, nil
}

// storeExtras binds attachments and stores mentions of a message just inserted.
func (b *batchState) storeExtras(a Append, m *model.Message, mayMentionAll bool) error {
	for _, id := range a.AttachmentIDs {
		if _, err := b.tx.Exec(`UPDATE attachments SET message_id = ? WHERE id = ?`, m.ID, id); err != nil {
			return err
		}
	}
	if len(a.AttachmentIDs) > 0 {
		rows, err := b.tx.Query(`SELECT message_id, `+attachmentCols+` FROM attachments WHERE message_id = ? ORDER BY id`, m.ID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var mid int64
			at, err := scanAttachment(rows, &mid)
			if err != nil {
				rows.Close()
				return err
			}
			m.Attachments = append(m.Attachments, at)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	ids, all, err := resolveMentions(b.tx, a.ConversationID, a.SenderID, a.Body, mayMentionAll)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		if err := insertMentions(b.tx, m.ID, a.ConversationID, m.Seq, ids); err != nil {
			return err
		}
	}
	if all {
		if _, err := b.tx.Exec(`UPDATE messages SET mention_all = 1 WHERE id = ?`, m.ID); err != nil {
			return err
		}
	}
	m.Mentions, m.MentionAll = ids, all
	return nil
}

// MentionNames returns the distinct @names of body (lower case, at most 20)
// and whether it says @all. A name is letters, digits, '.', '_' and '-',
// preceded by the start or a character that is not part of a name (so an
// e-mail address is not a mention); trailing dots and dashes are dropped.
func MentionNames(body string) (names []string, all bool) {
	if !strings.Contains(body, "@") {
		return nil, false
	}
	seen := map[string]bool{}
	rs := []rune(body)
	for i := 0; i < len(rs); i++ {
		if rs[i] != '@' || (i > 0 && isNameRune(rs[i-1])) {
			continue
		}
		j := i + 1
		for j < len(rs) && isNameRune(rs[j]) {
			j++
		}
		name := strings.ToLower(strings.TrimRight(string(rs[i+1:j]), ".-"))
		i = j - 1
		if name == "" {
			continue
		}
		if name == "all" {
			all = true
			continue
		}
		if !seen[name] && len(names) < 20 {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names, all
}

func isNameRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '_' || r == '-'
}

// resolveMentions turns the @names of body into user ids: members of the
// conversation and admins, never the sender. @all (only when allowed) adds
// every member.
func resolveMentions(tx *sql.Tx, convID, senderID int64, body string, mayMentionAll bool) ([]int64, bool, error) {
	names, all := MentionNames(body)
	all = all && mayMentionAll
	ids := []int64{}
	seen := map[int64]bool{senderID: true}
	add := func(query string, args ...any) error {
		rows, err := tx.Query(query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		return rows.Err()
	}
	if len(names) > 0 {
		b, _ := json.Marshal(names)
		if err := add(`SELECT u.id FROM users u WHERE u.username IN (SELECT value FROM json_each(?)) AND u.disabled = 0
			AND (u.role = 'admin' OR EXISTS (SELECT 1 FROM conversation_members cm WHERE cm.conversation_id = ? AND cm.user_id = u.id))
			ORDER BY u.id`, string(b), convID); err != nil {
			return nil, false, err
		}
	}
	if all {
		if err := add(`SELECT cm.user_id FROM conversation_members cm JOIN users u ON u.id = cm.user_id
			WHERE cm.conversation_id = ? AND u.disabled = 0 ORDER BY cm.user_id`, convID); err != nil {
			return nil, false, err
		}
	}
	return ids, all, nil
}

func insertMentions(tx *sql.Tx, msgID, convID, seq int64, ids []int64) error {
	_, err := tx.Exec(`INSERT OR IGNORE INTO mentions (user_id, message_id, conversation_id, seq)
		SELECT value, ?, ?, ? FROM json_each(?)`, msgID, convID, seq, idList(ids))
	return err
}

// ---- edits ----

// Edit is one earlier text of a message.
type Edit struct {
	Body     string     `json:"body"`
	EditedAt model.Time `json:"edited_at"`
}

// EditMessage replaces a message's body, keeping the old text in
// message_edits and recomputing its mentions, in one transaction. It answers
// false (and changes nothing) when the body is the same.
func (s *Store) EditMessage(ctx context.Context, id int64, body string, mayMentionAll bool) (model.Message, bool, error) {
	var changed bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var old string
		var deleted int
		var convID, senderID, seq int64
		err := tx.QueryRow(`SELECT body, deleted, conversation_id, sender_id, seq FROM messages WHERE id = ?`, id).
			Scan(&old, &deleted, &convID, &senderID, &seq)
		if err == sql.ErrNoRows {
			return model.NotFound("message")
		}
		if err != nil {
			return err
		}
		if deleted != 0 {
			return model.Invalid("a deleted message cannot be edited")
		}
		if old == body {
			return nil
		}
		changed = true
		t := now()
		if _, err := tx.Exec(`INSERT INTO message_edits (message_id, body, edited_at) VALUES (?, ?, ?)`, id, old, t); err != nil {
			return err
		}
		ids, all, err := resolveMentions(tx, convID, senderID, body, mayMentionAll)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE messages SET body = ?, edited_at = ?, mention_all = ? WHERE id = ?`, body, t, boolInt(all), id); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM mentions WHERE message_id = ?`, id); err != nil {
			return err
		}
		return insertMentions(tx, id, convID, seq, ids)
	})
	if err != nil {
		return model.Message{}, false, err
	}
	m, err := s.Message(ctx, id)
	return m, changed, err
}

// MessageEdits lists the earlier texts of a message, oldest first.
func (s *Store) MessageEdits(ctx context.Context, id int64) ([]Edit, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT body, edited_at FROM message_edits WHERE message_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("store: message edits: %w", err)
	}
	defer rows.Close()
	out := []Edit{}
	for rows.Next() {
		var e Edit
		var t int64
		if err := rows.Scan(&e.Body, &t); err != nil {
			return nil, err
		}
		e.EditedAt = model.Millis(t)
		out = append(out, e)
	}
	return out, rows.Err()
}

// ---- reactions ----

// SetReaction adds (on) or removes a user's emoji on a message that is not
// deleted, and returns the message's reactions afterwards and whether
// anything changed.
func (s *Store) SetReaction(ctx context.Context, msgID, userID int64, emoji string, on bool) ([]model.Reaction, bool, error) {
	var changed bool
	list := []model.Reaction{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var deleted int
		err := tx.QueryRow(`SELECT deleted FROM messages WHERE id = ?`, msgID).Scan(&deleted)
		if err == sql.ErrNoRows {
			return model.NotFound("message")
		}
		if err != nil {
			return err
		}
		if deleted != 0 {
			return model.Invalid("a deleted message takes no reactions")
		}
		var res sql.Result
		if on {
			res, err = tx.Exec(`INSERT OR IGNORE INTO reactions (message_id, emoji, user_id, created_at) VALUES (?, ?, ?, ?)`, msgID, emoji, userID, now())
		} else {
			res, err = tx.Exec(`DELETE FROM reactions WHERE message_id = ? AND emoji = ? AND user_id = ?`, msgID, emoji, userID)
		}
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		changed = n > 0
		rows, err := tx.Query(`SELECT emoji, user_id FROM reactions WHERE message_id = ? ORDER BY created_at, user_id`, msgID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e string
			var uid int64
			if err := rows.Scan(&e, &uid); err != nil {
				return err
			}
			list = addReaction(list, e, uid)
		}
		return rows.Err()
	})
	return list, changed, err
}

// ---- replies and mentions ----

// Replies returns up to limit replies to a message with seq > after, oldest first.
func (s *Store) Replies(ctx context.Context, msgID, after int64, limit int) (MessagePage, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+msgCols+` FROM messages m JOIN users u ON u.id = m.sender_id
		WHERE m.reply_to = ? AND m.seq > ? ORDER BY m.seq LIMIT ?`, msgID, after, limit+1)
	if err != nil {
		return MessagePage{}, fmt.Errorf("store: replies: %w", err)
	}
	page, err := collect(rows, limit)
	if err != nil {
		return page, err
	}
	return page, hydrate(ctx, s.r, page.Messages)
}

// Mentions returns the messages that mention userID, newest first, in
// conversations the user is a member of (all when admin), not deleted.
func (s *Store) Mentions(ctx context.Context, userID int64, admin bool, beforeID int64, limit int) (MessagePage, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+msgCols+` FROM mentions x
		JOIN messages m ON m.id = x.message_id JOIN users u ON u.id = m.sender_id
		WHERE x.user_id = ?1 AND x.message_id < ?2 AND m.deleted = 0
		  AND (?3 OR EXISTS (SELECT 1 FROM conversation_members cm WHERE cm.conversation_id = x.conversation_id AND cm.user_id = ?1))
		ORDER BY x.message_id DESC LIMIT ?4`, userID, beforeID, admin, limit+1)
	if err != nil {
		return MessagePage{}, fmt.Errorf("store: mentions: %w", err)
	}
	page, err := collect(rows, limit)
	if err != nil {
		return page, err
	}
	return page, hydrate(ctx, s.r, page.Messages)
}

// callerFlagCols are the caller's (?1) unread mentions and notification mute
// of conversation c, whose read marker of the caller is r (LEFT JOIN).
const callerFlagCols = `(SELECT count(*) FROM mentions x JOIN messages xm ON xm.id = x.message_id
		 WHERE x.user_id = ?1 AND x.conversation_id = c.id AND x.seq > COALESCE(r.seq, 0) AND xm.deleted = 0),
		EXISTS (SELECT 1 FROM notification_mutes n WHERE n.user_id = ?1 AND n.conversation_id = c.id)`

// CallerFlags returns a user's unread mentions and notification mute of one
// conversation (the columns ListConversations gives each).
func (s *Store) CallerFlags(ctx context.Context, userID, convID int64) (unreadMentions int64, muted bool, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT `+callerFlagCols+` FROM conversations c
		LEFT JOIN read_markers r ON r.conversation_id = c.id AND r.user_id = ?1
		WHERE c.id = ?2`, userID, convID).Scan(&unreadMentions, &muted)
	if err != nil {
		err = fmt.Errorf("store: caller flags: %w", err)
	}
	return unreadMentions, muted, err
}

// SetNotificationsMuted records a user's notification mute of a conversation.
func (s *Store) SetNotificationsMuted(ctx context.Context, userID, convID int64, muted bool) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if muted {
			_, err = tx.Exec(`INSERT OR IGNORE INTO notification_mutes (user_id, conversation_id) VALUES (?, ?)`, userID, convID)
		} else {
			_, err = tx.Exec(`DELETE FROM notification_mutes WHERE user_id = ? AND conversation_id = ?`, userID, convID)
		}
		return err
	})
}

// attachmentCols are the columns scanAttachment reads, after any leading extras.
const attachmentCols = `id, name, content_type, size, width, height, thumbnail`

// scanAttachment reads attachmentCols after the given leading destinations.
func scanAttachment(sc scanner, lead ...any) (model.Attachment, error) {
	var id, size int64
	var name, ct string
	var w, h, thumb int
	if err := sc.Scan(append(lead, &id, &name, &ct, &size, &w, &h, &thumb)...); err != nil {
		return model.Attachment{}, err
	}
	return AttachmentModel(id, name, ct, size, w, h, thumb != 0), nil
}
