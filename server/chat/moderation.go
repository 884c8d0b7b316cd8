package chat

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"teamchat/server/model"
	"teamchat/server/realtime"
	"teamchat/server/store"
)

// Audit actions.
const (
	AuditUserCreate         = "user.create"
	AuditUserUpdate         = "user.update"
	AuditUserDisable        = "user.disable"
	AuditSettingsUpdate     = "settings.update"
	AuditConversationUpdate = "conversation.update"
	AuditConversationDelete = "conversation.delete"
	AuditMemberAdd          = "member.add"
	AuditMemberRemove       = "member.remove"
	AuditMessageDelete      = "message.delete"
	AuditMemberMute         = "member.mute"
	AuditMemberUnmute       = "member.unmute"
	AuditMessagePin         = "message.pin"
	AuditMessageUnpin       = "message.unpin"
	AuditAnnouncementPost   = "announcement.post"
	AuditTokenReuse         = "token.reuse" // a rotated refresh token came back: its family was revoked
)

// Limits of the moderation actions.
const (
	MaxMuteMinutes  = 7 * 24 * 60
	MaxSlowModeSecs = 3600
)

// audit records an action that has already happened (the use cases of the
// other files); failures are logged, the action stands. actor nil = command line.
func (s *Service) audit(ctx context.Context, actor *model.User, action, targetType string, targetID int64, details any) {
	e := store.AuditEntry{Action: action, TargetType: targetType, TargetID: targetID, Details: details}
	if actor != nil {
		e.ActorID = actor.ID
	}
	if err := s.st.AppendAudit(ctx, e); err != nil {
		s.log.Error("audit entry not stored", "action", action, "target_id", targetID, "err", err)
	}
}

func entry(actor model.User, action, targetType string, targetID int64, details any) store.AuditEntry {
	return store.AuditEntry{ActorID: actor.ID, Action: action, TargetType: targetType, TargetID: targetID, Details: details}
}

// ---- settings: pause all and the direct-message policy ----

func moderationSettings(p SettingsPatch, kv map[string]string) error {
	if p.Paused != nil {
		kv[store.SettingPaused] = boolString(*p.Paused)
	}
	if p.DMPolicy != nil {
		switch *p.DMPolicy {
		case model.DMPolicyAnyone, model.DMPolicyStaff, model.DMPolicyNone:
			kv[store.SettingDMPolicy] = *p.DMPolicy
		default:
			return model.Invalid("dm_policy: want anyone, staff or none")
		}
	}
	return groupSettings(p, kv) // grouppolicy.go
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// settingsChanged audits the settings that changed (the join code only as
// "rotated") and tells every connection when the class is paused or resumed.
func (s *Service) settingsChanged(ctx context.Context, actor model.User, before, kv map[string]string) {
	changed := map[string]any{}
	for k, v := range kv {
		if before[k] == v {
			continue
		}
		switch k {
		case store.SettingJoinCode:
			changed[k] = "rotated"
		case store.SettingGuestAccess, store.SettingPaused:
			changed[k] = v == "true"
		default:
			changed[k] = v
		}
	}
	if len(changed) == 0 {
		return
	}
	s.audit(ctx, &actor, AuditSettingsUpdate, "settings", 0, changed)
	if p, ok := changed[store.SettingPaused]; ok {
		s.hub.Broadcast(realtime.ClassPausedFrame{Type: "class_paused", Paused: p.(bool)})
	}
}

// checkDMCreate applies the direct-message policy to a student or guest
// opening a direct conversation with other.
func (s *Service) checkDMCreate(ctx context.Context, actor model.User, other store.UserRecord) error {
	if actor.Role == model.RoleAdmin {
		return nil
	}
	set, err := s.Settings(ctx)
	if err != nil {
		return err
	}
	switch set.DMPolicy {
	case model.DMPolicyNone:
		return model.Forbidden(store.MsgDMsOff)
	case model.DMPolicyStaff:
		if other.Role != model.RoleAdmin {
			return model.Forbidden(store.MsgDMsStaff)
		}
	}
	return nil
}

// ---- audit hooks of the existing use cases ----

func (s *Service) auditUserUpdate(ctx context.Context, actor model.User, cur store.UserRecord, after model.User, p UserPatch) {
	changes := map[string]any{}
	if after.DisplayName != cur.DisplayName {
		changes["display_name"] = after.DisplayName
	}
	if after.Role != cur.Role {
		changes["role"] = after.Role
	}
	if p.Password != nil {
		changes["password"] = "changed" // never the password itself
	}
	if cur.Disabled && !after.Disabled {
		changes["disabled"] = false
	}
	if len(changes) > 0 {
		s.audit(ctx, &actor, AuditUserUpdate, "user", after.ID, changes)
	}
	if !cur.Disabled && after.Disabled {
		s.audit(ctx, &actor, AuditUserDisable, "user", after.ID, map[string]any{"username": after.Username})
	}
}

func (s *Service) auditConversationUpdate(ctx context.Context, actor model.User, before, after model.Conversation) {
	changes := map[string]any{}
	if before.Name != after.Name {
		changes["name"] = after.Name
	}
	if before.Locked != after.Locked {
		changes["locked"] = after.Locked
	}
	if before.AutoJoin != after.AutoJoin {
		changes["auto_join"] = after.AutoJoin
	}
	if before.SlowMode != after.SlowMode {
		changes["slow_mode_seconds"] = after.SlowMode
	}
	if len(changes) > 0 {
		s.audit(ctx, &actor, AuditConversationUpdate, "conversation", after.ID, changes)
	}
}

// ---- mutes ----

// MuteResult is the answer to a mute.
type MuteResult struct {
	UserID int64      `json:"user_id"`
	Until  model.Time `json:"until"`
}

// Mute silences a member of a conversation for minutes (owners of that
// conversation and admins). Admins and owners cannot be muted.
func (s *Service) Mute(ctx context.Context, actor model.User, convID, userID int64, minutes int) (MuteResult, error) {
	if _, _, err := s.Authorize(ctx, actor, convID, ActManage); err != nil {
		return MuteResult{}, err
	}
	if minutes < 1 || minutes > MaxMuteMinutes {
		return MuteResult{}, model.Invalid("minutes: 1 to %d", MaxMuteMinutes)
	}
	target, err := s.st.UserByID(ctx, userID)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return MuteResult{}, model.Invalid("user_id: not a member of this conversation")
		}
		return MuteResult{}, err
	}
	role, err := s.st.MemberRole(ctx, convID, userID)
	if err != nil {
		return MuteResult{}, err
	}
	switch {
	case role == "":
		return MuteResult{}, model.Invalid("user_id: not a member of this conversation")
	case target.Role == model.RoleAdmin:
		return MuteResult{}, model.Invalid("user_id: admins cannot be muted")
	case role == model.MemberOwner:
		return MuteResult{}, model.Invalid("user_id: owners of the conversation cannot be muted")
	}
	until := time.Now().Add(time.Duration(minutes) * time.Minute).UnixMilli()
	res := MuteResult{UserID: userID, Until: model.Millis(until)}
	err = s.st.SetMute(ctx, convID, userID, until, actor.ID, entry(actor, AuditMemberMute, "user", userID,
		map[string]any{"conversation_id": convID, "minutes": minutes, "until": res.Until}))
	if err != nil {
		return MuteResult{}, err
	}
	s.hub.PublishTo(convID, []int64{userID}, false, realtime.MemberMutedFrame{Type: "member_muted", ConversationID: convID, UserID: userID, Until: &res.Until})
	return res, nil
}

// Unmute ends a member's mute; it succeeds when there is none.
func (s *Service) Unmute(ctx context.Context, actor model.User, convID, userID int64) error {
	if _, _, err := s.Authorize(ctx, actor, convID, ActManage); err != nil {
		return err
	}
	ended, err := s.st.ClearMute(ctx, convID, userID, entry(actor, AuditMemberUnmute, "user", userID, map[string]any{"conversation_id": convID}))
	if err != nil {
		return err
	}
	if ended {
		s.hub.PublishTo(convID, []int64{userID}, false, realtime.MemberMutedFrame{Type: "member_muted", ConversationID: convID, UserID: userID})
	}
	return nil
}

// Mutes lists a conversation's active mutes (owners and admins).
func (s *Service) Mutes(ctx context.Context, actor model.User, convID int64) ([]store.Mute, error) {
	if _, _, err := s.Authorize(ctx, actor, convID, ActManage); err != nil {
		return nil, err
	}
	return s.st.Mutes(ctx, convID)
}

// ---- pins ----

// Pin pins (or unpins) a message (owners of its conversation and admins).
func (s *Service) Pin(ctx context.Context, actor model.User, msgID int64, pinned bool) error {
	m, err := s.st.Message(ctx, msgID)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return model.NotFound("message")
		}
		return err
	}
	if _, _, err := s.Authorize(ctx, actor, m.ConversationID, ActManage); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return model.NotFound("message")
		}
		return err
	}
	if m.Deleted && pinned {
		return model.Invalid("a deleted message cannot be pinned")
	}
	action := AuditMessagePin
	if !pinned {
		action = AuditMessageUnpin
	}
	changed, err := s.st.SetPinned(ctx, msgID, actor.ID, pinned, entry(actor, action, "message", msgID,
		map[string]any{"conversation_id": m.ConversationID, "sender_id": m.Sender.ID}))
	if err != nil {
		return err
	}
	if changed {
		s.hub.PublishToConversation(m.ConversationID, realtime.MessagePinnedFrame{
			Type: "message_pinned", ConversationID: m.ConversationID, MessageID: msgID, Pinned: pinned}, 0)
	}
	return nil
}

// Pins lists a conversation's pinned messages, newest pin first.
func (s *Service) Pins(ctx context.Context, actor model.User, convID int64) ([]model.Message, error) {
	if _, _, err := s.Authorize(ctx, actor, convID, ActRead); err != nil {
		return nil, err
	}
	return s.st.Pins(ctx, convID)
}

// ---- announcements ----

// Announce posts body as the admin into every group conversation through the
// group committer (subscribers get `message` frames). The per-user message
// rate limit does not apply: it is one action.
func (s *Service) Announce(ctx context.Context, actor model.User, body string) ([]model.Message, error) {
	if actor.Role != model.RoleAdmin {
		return nil, model.Forbidden("only admins can post announcements")
	}
	if err := ValidateBody(body); err != nil {
		return nil, err
	}
	ids, err := s.st.GroupConversationIDs(ctx)
	if err != nil {
		return nil, err
	}
	results := make(chan store.AppendResult, len(ids))
	queued := 0
	for _, id := range ids {
		if err := s.enqueue(store.Append{ConversationID: id, SenderID: actor.ID, Body: body}, func(r store.AppendResult) { results <- r }); err != nil {
			if queued == 0 {
				return nil, err
			}
			break
		}
		queued++
	}
	msgs := []model.Message{}
	var failed error
	for range queued {
		r := <-results
		switch {
		case r.Err == nil:
			msgs = append(msgs, r.Message)
		case errors.Is(r.Err, model.ErrNotFound): // deleted meanwhile
		default:
			failed = r.Err
		}
	}
	if len(msgs) == 0 && failed != nil {
		return nil, failed
	}
	sortMessages(msgs)
	convIDs := make([]int64, len(msgs))
	msgIDs := make([]int64, len(msgs))
	for i, m := range msgs {
		convIDs[i], msgIDs[i] = m.ConversationID, m.ID
	}
	s.audit(ctx, &actor, AuditAnnouncementPost, "announcement", 0,
		map[string]any{"body": body, "conversation_ids": convIDs, "message_ids": msgIDs})
	return msgs, nil
}

func sortMessages(ms []model.Message) {
	slices.SortFunc(ms, func(a, b model.Message) int { return cmp.Compare(a.ConversationID, b.ConversationID) })
}

// ---- audit log ----

// AuditLog lists audit entries, newest first (admins only).
func (s *Service) AuditLog(ctx context.Context, actor model.User, f store.AuditFilter) (store.AuditPage, error) {
	if actor.Role != model.RoleAdmin {
		return store.AuditPage{}, model.Forbidden("only admins can read the audit log")
	}
	return s.st.AuditLog(ctx, f)
}
