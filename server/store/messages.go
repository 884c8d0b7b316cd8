package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"teamchat/server/model"
)

const msgCols = `m.id, m.conversation_id, m.seq, m.body, COALESCE(m.client_id, ''), m.created_at, m.deleted, m.pinned_at IS NOT NULL, ` +
	`m.edited_at, COALESCE(m.reply_to, 0), m.mention_all, ` + userCols

func scanMessage(sc scanner) (model.Message, error) {
	var m model.Message
	var created int64
	var deleted, pinned, mentionAll int
	var edited sql.NullInt64
	var replyTo int64
	var u UserRecord
	var ucreated int64
	var udisabled int
	err := sc.Scan(&m.ID, &m.ConversationID, &m.Seq, &m.Body, &m.ClientID, &created, &deleted, &pinned,
		&edited, &replyTo, &mentionAll,
		&u.ID, &u.Username, &u.DisplayName, &u.Role, &ucreated, &udisabled, &u.PasswordHash, &u.ExpiresAt, &u.TokenEpoch)
	u.CreatedAt = model.Millis(ucreated)
	u.Disabled = udisabled != 0
	m.Sender = u.User
	m.CreatedAt = model.Millis(created)
	m.Deleted = deleted != 0
	m.Pinned = pinned != 0 && !m.Deleted
	m.MentionAll = mentionAll != 0 && !m.Deleted
	if edited.Valid {
		t := model.Millis(edited.Int64)
		m.EditedAt = &t
	}
	if replyTo != 0 {
		m.ReplyTo = &model.ReplyPreview{ID: replyTo} // the rest is filled by hydrate
	}
	m.Mentions, m.Reactions, m.Attachments = []int64{}, []model.Reaction{}, []model.Attachment{}
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
	ReplyTo        int64   // 0: not a reply
	AttachmentIDs  []int64 // uploads of the sender for this conversation, not yet used
}

// AppendResult says what happened to one Append.
type AppendResult struct {
	Message model.Message
	Created bool  // false: an earlier message with the same client_id was returned
	Err     error // a domain error for this message alone
}

// appendStmts are the statements of the message hot path, prepared once on
// the writer connection.
type appendStmts struct {
	byClient, known, sender, conv, member, setSeq, insert, marker *sql.Stmt
	mod                                                           modStmts // moderation checks (moderation.go)
}

func (s *Store) prepareAppend() error {
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = s.w.Prepare(q)
		return st
	}
	s.app = appendStmts{
		byClient: prep(`SELECT id, conversation_id, body FROM messages WHERE sender_id = ? AND client_id = ?`),
		sender:   prep(`SELECT ` + userCols + ` FROM users u WHERE u.id = ?`),
		// One look-up per batch for every (sender, client_id) of it: only those
		// found need the per-message look-up above.
		known: prep(`SELECT m.sender_id, m.client_id FROM json_each(?) j
			JOIN messages m ON m.sender_id = j.value ->> 0 AND m.client_id = j.value ->> 1 AND m.client_id IS NOT NULL`),
		conv:   prep(`SELECT locked, kind, slow_mode_seconds, last_seq FROM conversations WHERE id = ?`),
		member: prep(`SELECT role FROM conversation_members WHERE conversation_id = ? AND user_id = ?`),
		setSeq: prep(`UPDATE conversations SET last_seq = ? WHERE id = ?`),
		insert: prep(`INSERT INTO messages (conversation_id, seq, sender_id, body, client_id, created_at, reply_to) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		marker: prep(`INSERT INTO read_markers (user_id, conversation_id, seq) VALUES (?, ?, ?)
			ON CONFLICT (user_id, conversation_id) DO UPDATE SET seq = max(seq, excluded.seq)`),
		mod: prepareModeration(prep),
	}
	return err
}

// batchState caches, within one transaction, what the checks read.
type batchState struct {
	tx      *sql.Tx
	st      appendStmts
	senders map[int64]*UserRecord
	convs   map[int64]convInfo
	roles   map[[2]int64]string
	markers map[[2]int64]int64 // (sender, conversation) → newest seq, written once per batch
	seqs    map[int64]int64    // conversation → its newest seq in this batch, written once per batch
	clients map[clientKey]bool // (sender, client_id) pairs that may be stored already
	mod     modState           // moderation checks' cache (moderation.go)
}

type clientKey struct {
	sender int64
	id     string
}

// loadKnownClients reads which of the batch's (sender, client_id) pairs are
// stored already, in one statement.
func (b *batchState) loadKnownClients(batch []Append) error {
	var pairs [][2]any
	for _, a := range batch {
		if a.ClientID != "" {
			pairs = append(pairs, [2]any{a.SenderID, a.ClientID})
		}
	}
	if len(pairs) == 0 {
		return nil
	}
	arg, err := json.Marshal(pairs)
	if err != nil {
		return err
	}
	rows, err := b.st.known.Query(string(arg))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k clientKey
		if err := rows.Scan(&k.sender, &k.id); err != nil {
			return err
		}
		b.clients[k] = true
	}
	return rows.Err()
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
		b := &batchState{tx: tx, senders: map[int64]*UserRecord{}, convs: map[int64]convInfo{},
			roles: map[[2]int64]string{}, markers: map[[2]int64]int64{}, seqs: map[int64]int64{}, clients: map[clientKey]bool{}}
		b.st = appendStmts{
			byClient: tx.Stmt(s.app.byClient), known: tx.Stmt(s.app.known), sender: tx.Stmt(s.app.sender), conv: tx.Stmt(s.app.conv),
			member: tx.Stmt(s.app.member), setSeq: tx.Stmt(s.app.setSeq), insert: tx.Stmt(s.app.insert), marker: tx.Stmt(s.app.marker),
			mod: s.app.mod.in(tx),
		}
		if err := b.loadKnownClients(batch); err != nil {
			return err
		}
		t := now()
		for i, a := range batch {
			res, err := b.append(a, t)
			if err != nil {
				var de *model.Error
				if errors.As(err, &de) {
					results[i] = AppendResult{Err: err}
					continue
				}
				return err
			}
			results[i] = res
		}
		for conv, seq := range b.seqs {
			if b.convs[conv].stored {
				if _, err := b.st.setSeq.Exec(seq, conv); err != nil {
					return err
				}
			}
		}
		for k, seq := range b.markers {
			if _, err := b.st.marker.Exec(k[0], k[1], seq); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("store: append messages: %w", err)
		for i := range results {
			results[i] = AppendResult{Err: err}
		}
	} else {
		s.messagesCommitted()
	}
	return results
}

func (b *batchState) append(a Append, t int64) (AppendResult, error) {
	sender := b.senders[a.SenderID]
	if sender == nil {
		u, err := scanUser(b.st.sender.QueryRow(a.SenderID))
		if err == sql.ErrNoRows {
			return AppendResult{}, &model.Error{Kind: model.ErrUnauthorized, Msg: "account not found"}
		}
		if err != nil {
			return AppendResult{}, err
		}
		sender = &u
		b.senders[a.SenderID] = sender
	}
	if sender.Disabled {
		return AppendResult{}, &model.Error{Kind: model.ErrUnauthorized, Msg: "account disabled"}
	}
	if sender.ExpiresAt > 0 && sender.ExpiresAt <= t {
		// A guest past its lifetime, before the expiry sweep disables it.
		return AppendResult{}, &model.Error{Kind: model.ErrUnauthorized, Msg: "guest access ended"}
	}
	conv, ok := b.convs[a.ConversationID]
	if !ok {
		var kind string
		var lastSeq int64
		err := b.st.conv.QueryRow(a.ConversationID).Scan(&conv.locked, &kind, &conv.slowMode, &lastSeq)
		if err == sql.ErrNoRows {
			conv.missing = true
		} else if err != nil {
			return AppendResult{}, err
		}
		conv.direct = kind == model.KindDirect
		b.convs[a.ConversationID] = conv
		b.seqs[a.ConversationID] = lastSeq
	}
	if conv.missing {
		return AppendResult{}, model.NotFound("conversation")
	}
	key := [2]int64{a.SenderID, a.ConversationID}
	memberRole, ok := b.roles[key]
	if !ok {
		if err := b.st.member.QueryRow(a.ConversationID, a.SenderID).Scan(&memberRole); err != nil && err != sql.ErrNoRows {
			return AppendResult{}, err
		}
		b.roles[key] = memberRole
	}
	isAdmin := sender.Role == model.RoleAdmin
	if memberRole == "" && !isAdmin {
		return AppendResult{}, model.NotFound("conversation")
	}
	// A resend answers the stored message only to a sender who may still read
	// the conversation: it carries the current reactions, reply count and quote.
	// Moderation (pause, lock, mute, slow mode) applied when it was first stored.
	// Only client ids the batch found stored, or repeated in it, are looked up.
	if a.ClientID != "" && b.clients[clientKey{a.SenderID, a.ClientID}] {
		var id, storedConv int64
		var body string
		err := b.st.byClient.QueryRow(a.SenderID, a.ClientID).Scan(&id, &storedConv, &body)
		switch {
		case err == nil:
			if storedConv != a.ConversationID || body != a.Body {
				return AppendResult{}, model.Conflict("client_id %q was already used for a different message", a.ClientID)
			}
			m, err := scanMessage(b.tx.QueryRow(`SELECT `+msgCols+` FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.id = ?`, id))
			if err != nil {
				return AppendResult{}, err
			}
			ms := []model.Message{m}
			err = hydrate(context.Background(), b.tx, ms)
			return AppendResult{Message: ms[0]}, err
		case err != sql.ErrNoRows:
			return AppendResult{}, err
		}
	}
	if err := b.checkPaused(isAdmin); err != nil {
		return AppendResult{}, err
	}
	if conv.locked && !isAdmin && memberRole != model.MemberOwner {
		return AppendResult{}, model.Forbidden("this conversation is locked: only its owners and admins can post")
	}
	if err := b.moderate(a, conv, isAdmin, memberRole, t); err != nil {
		return AppendResult{}, err
	}
	quote, err := b.checkExtras(a)
	if err != nil {
		return AppendResult{}, err
	}
	// The conversation's seq counter is read once per batch and written back
	// once at its end (same transaction), so seqs stay gap-free.
	seq := b.seqs[a.ConversationID] + 1
	var cid any
	if a.ClientID != "" {
		cid = a.ClientID
	}
	var replyTo any
	if a.ReplyTo != 0 {
		replyTo = a.ReplyTo
	}
	res, err := b.st.insert.Exec(a.ConversationID, seq, a.SenderID, a.Body, cid, t, replyTo)
	if err != nil {
		return AppendResult{}, err
	}
	id, _ := res.LastInsertId()
	b.seqs[a.ConversationID] = seq
	if !conv.stored {
		conv.stored = true
		b.convs[a.ConversationID] = conv
	}
	if a.ClientID != "" {
		b.clients[clientKey{a.SenderID, a.ClientID}] = true
	}
	if memberRole != "" {
		b.markers[key] = seq
	}
	b.posted(key, t)
	m := model.Message{
		ID: id, ConversationID: a.ConversationID, Seq: seq, Sender: sender.User,
		Body: a.Body, CreatedAt: model.Millis(t), ClientID: a.ClientID,
		ReplyTo: quote, Mentions: []int64{}, Reactions: []model.Reaction{}, Attachments: []model.Attachment{},
	}
	if err := b.storeExtras(a, &m, isAdmin || memberRole == model.MemberOwner); err != nil {
		return AppendResult{}, err
	}
	return AppendResult{Created: true, Message: m}, nil
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
	if err != nil {
		return page, err
	}
	return page, hydrate(ctx, s.r, page.Messages)
}

// MessagesRange returns messages with after < seq < before, oldest first.
func (s *Store) MessagesRange(ctx context.Context, convID, after, before int64) ([]model.Message, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+msgCols+` FROM messages m JOIN users u ON u.id = m.sender_id
		WHERE m.conversation_id = ? AND m.seq > ? AND m.seq < ? ORDER BY m.seq`, convID, after, before)
	if err != nil {
		return nil, fmt.Errorf("store: messages range: %w", err)
	}
	page, err := collect(rows, int(before-after))
	if err != nil {
		return nil, err
	}
	return page.Messages, hydrate(ctx, s.r, page.Messages)
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
	return page, hydrate(ctx, s.r, ms)
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
	ms := []model.Message{m}
	err = hydrate(ctx, s.r, ms)
	return ms[0], err
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
