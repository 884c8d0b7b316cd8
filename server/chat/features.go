package chat

import (
	"context"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	"teamchat/server/model"
	"teamchat/server/realtime"
	"teamchat/server/store"
)

// Everyday features (issue 8): edits, reactions, replies, mentions,
// notification mutes and search. Attachments are in attachments.go.

// Settings keys of the everyday features.
const (
	SettingEditWindow  = "edit_window_minutes"
	SettingMaxUpload   = "max_upload_mib"
	SettingUploadQuota = "upload_quota_mib"
)

// featureSettings validates the issue-8 settings of a patch into kv.
func featureSettings(p SettingsPatch, kv map[string]string) error {
	check := func(v *int, key string, lo, hi int) error {
		if v == nil {
			return nil
		}
		if *v < lo || *v > hi {
			return model.Invalid("%s: %d to %d", key, lo, hi)
		}
		kv[key] = strconv.Itoa(*v)
		return nil
	}
	if err := check(p.EditWindowMinutes, SettingEditWindow, 0, 1440); err != nil {
		return err
	}
	if err := check(p.MaxUploadMiB, SettingMaxUpload, 1, 100); err != nil {
		return err
	}
	return check(p.UploadQuotaMiB, SettingUploadQuota, 1, 100000)
}

// settingInt reads an integer setting, or def when unset or unreadable.
func settingInt(kv map[string]string, key string, def int) int {
	if v, err := strconv.Atoi(kv[key]); err == nil {
		return v
	}
	return def
}

// messageFor loads a message and checks that actor may read its
// conversation; outsiders get 404 for the message.
func (s *Service) messageFor(ctx context.Context, actor model.User, msgID int64, act Action) (model.Message, model.Conversation, string, error) {
	m, err := s.st.Message(ctx, msgID)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return m, model.Conversation{}, "", model.NotFound("message")
		}
		return m, model.Conversation{}, "", err
	}
	conv, role, err := s.Authorize(ctx, actor, m.ConversationID, act)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return m, conv, role, model.NotFound("message")
		}
		return m, conv, role, err
	}
	return m, conv, role, nil
}

// ---- edits ----

// EditMessage replaces the body of the actor's own message within the edit window.
func (s *Service) EditMessage(ctx context.Context, actor model.User, msgID int64, body string) (model.Message, error) {
	m, conv, role, err := s.messageFor(ctx, actor, msgID, ActPost)
	if err != nil {
		return m, err
	}
	if m.Sender.ID != actor.ID {
		return m, model.Forbidden("you can edit only your own messages")
	}
	if m.Deleted {
		return m, model.Invalid("a deleted message cannot be edited")
	}
	kv, err := s.st.Settings(ctx)
	if err != nil {
		return m, err
	}
	window := settingInt(kv, SettingEditWindow, model.DefaultEditWindowMinutes)
	if window == 0 {
		return m, model.Forbidden("editing messages is turned off in this class")
	}
	if time.Since(m.CreatedAt.Time) > time.Duration(window)*time.Minute {
		return m, model.Forbidden("the edit window of %d minutes has closed", window)
	}
	if len(m.Attachments) == 0 || body != "" {
		if err := ValidateBody(body); err != nil {
			return m, err
		}
	}
	if err := s.st.WriteRefusal(ctx, conv.ID, actor.ID); err != nil {
		return m, err
	}
	if conv.Locked && actor.Role != model.RoleAdmin && role != model.MemberOwner {
		return m, model.Forbidden("this conversation is locked: only its owners and admins can post")
	}
	if err := s.allowMessage(actor.ID); err != nil {
		return m, err
	}
	edited, changed, err := s.st.EditMessage(ctx, msgID, body, actor.Role == model.RoleAdmin || role == model.MemberOwner)
	if err != nil {
		return edited, err
	}
	if changed {
		s.hub.PublishToConversation(edited.ConversationID, realtime.MessageEditedFrame{
			Type: "message_edited", ConversationID: edited.ConversationID, Message: edited}, 0)
		s.checkFlags(edited, m.Body) // flags.go: an edit is checked like a send
	}
	return edited, nil
}

// MessageEdits lists a message's earlier texts (admins only).
func (s *Service) MessageEdits(ctx context.Context, actor model.User, msgID int64) ([]store.Edit, error) {
	if _, _, _, err := s.messageFor(ctx, actor, msgID, ActRead); err != nil {
		return nil, err
	}
	if actor.Role != model.RoleAdmin {
		return nil, model.Forbidden("only admins can read the edit history")
	}
	return s.st.MessageEdits(ctx, msgID)
}

// ---- reactions ----

// React adds (on) or removes the actor's emoji on a message.
func (s *Service) React(ctx context.Context, actor model.User, msgID int64, emoji string, on bool) ([]model.Reaction, error) {
	m, _, _, err := s.messageFor(ctx, actor, msgID, ActPost)
	if err != nil {
		return nil, err
	}
	if !ValidEmoji(emoji) {
		return nil, model.Invalid("emoji: one emoji, such as 👍")
	}
	if m.Deleted {
		return nil, model.Invalid("a deleted message takes no reactions")
	}
	if err := s.st.WriteRefusal(ctx, m.ConversationID, actor.ID); err != nil {
		return nil, err
	}
	if err := s.allowMessage(actor.ID); err != nil {
		return nil, err
	}
	list, changed, err := s.st.SetReaction(ctx, msgID, actor.ID, emoji, on)
	if err != nil {
		return nil, err
	}
	if changed {
		typ := "reaction_added"
		if !on {
			typ = "reaction_removed"
		}
		s.hub.PublishToConversation(m.ConversationID, realtime.ReactionFrame{Type: typ, ConversationID: m.ConversationID,
			MessageID: msgID, Emoji: emoji, UserID: actor.ID, Reactions: list}, 0)
	}
	return list, nil
}

// ValidEmoji reports whether e is one emoji: a flag (two regional
// indicators), a keycap, or pictographs (each with an optional variation
// selector, skin tone or tag sequence) joined by zero-width joiners; at most
// 32 bytes.
func ValidEmoji(e string) bool {
	if e == "" || len(e) > 32 || !utf8.ValidString(e) {
		return false
	}
	rs := []rune(e)
	if len(rs) == 2 && isRegional(rs[0]) && isRegional(rs[1]) {
		return true
	}
	if (rs[0] >= '0' && rs[0] <= '9') || rs[0] == '#' || rs[0] == '*' {
		rest := rs[1:]
		if len(rest) > 0 && rest[0] == 0xFE0F {
			rest = rest[1:]
		}
		return len(rest) == 1 && rest[0] == 0x20E3
	}
	i := 0
	for {
		if i >= len(rs) || !isPictograph(rs[i]) {
			return false
		}
		i++
		for i < len(rs) && (rs[i] == 0xFE0F || (rs[i] >= 0x1F3FB && rs[i] <= 0x1F3FF) || (rs[i] >= 0xE0020 && rs[i] <= 0xE007F)) {
			i++
		}
		if i == len(rs) {
			return true
		}
		if rs[i] != 0x200D {
			return false
		}
		i++
	}
}

func isRegional(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

func isPictograph(r rune) bool {
	switch {
	case isRegional(r):
		return false // only in pairs (flags)
	case r >= 0x1F000 && r <= 0x1FAFF, r >= 0x2600 && r <= 0x27BF, r >= 0x2300 && r <= 0x23FF,
		r >= 0x2B00 && r <= 0x2BFF, r >= 0x2190 && r <= 0x21FF, r >= 0x25A0 && r <= 0x25FF,
		r >= 0x2900 && r <= 0x297F, r >= 0x3030 && r <= 0x303D, r == 0x3297, r == 0x3299,
		r == 0x00A9, r == 0x00AE, r == 0x203C, r == 0x2049, r == 0x2122, r == 0x2139:
		return true
	}
	return false
}

// ---- replies, mentions, notification mutes ----

// Replies returns a message and a page of its replies.
func (s *Service) Replies(ctx context.Context, actor model.User, msgID, after int64, limit int) (model.Message, store.MessagePage, error) {
	m, _, _, err := s.messageFor(ctx, actor, msgID, ActRead)
	if err != nil {
		return m, store.MessagePage{}, err
	}
	page, err := s.st.Replies(ctx, msgID, after, limit)
	return m, page, err
}

// Mentions lists the messages that mention the actor, newest first.
func (s *Service) Mentions(ctx context.Context, actor model.User, beforeID int64, limit int) (store.MessagePage, error) {
	if actor.Disabled {
		return store.MessagePage{}, &model.Error{Kind: model.ErrUnauthorized, Msg: "account disabled"}
	}
	return s.st.Mentions(ctx, actor.ID, actor.Role == model.RoleAdmin, beforeID, limit)
}

// SetNotificationsMuted records the actor's notification mute of a conversation.
func (s *Service) SetNotificationsMuted(ctx context.Context, actor model.User, convID int64, muted bool) error {
	if _, _, err := s.Authorize(ctx, actor, convID, ActRead); err != nil {
		return err
	}
	return s.st.SetNotificationsMuted(ctx, actor.ID, convID, muted)
}

// publishMentions tells each mentioned user, on every connection, after the
// message is stored.
func (s *Service) publishMentions(m model.Message) {
	if len(m.Mentions) == 0 {
		return
	}
	s.hub.PublishToUsers(m.Mentions, false, realtime.MentionedFrame{Type: "mentioned", ConversationID: m.ConversationID, Message: m})
}

// ---- search ----

// Search runs a full-text search over what the actor may read.
func (s *Service) Search(ctx context.Context, actor model.User, q store.SearchQuery) (store.SearchPage, error) {
	if actor.Disabled {
		return store.SearchPage{}, &model.Error{Kind: model.ErrUnauthorized, Msg: "account disabled"}
	}
	if n := utf8.RuneCountInString(q.Text); n == 0 || n > 200 || !utf8.ValidString(q.Text) {
		return store.SearchPage{}, model.Invalid("q: 1 to 200 characters")
	}
	if q.ConversationID != 0 {
		if _, _, err := s.Authorize(ctx, actor, q.ConversationID, ActRead); err != nil {
			return store.SearchPage{}, err
		}
	}
	q.UserID, q.Admin = actor.ID, actor.Role == model.RoleAdmin
	return s.st.Search(ctx, q)
}
