package chat

import (
	"context"
	"time"

	"teamchat/server/model"
	"teamchat/server/realtime"
	"teamchat/server/store"
)

// defaultTrashRetention matches config.DefaultTrashRetention for a service
// built without one (tests of this package).
const defaultTrashRetention = 30 * 24 * time.Hour

// trashSweepEvery is how often the retention sweep looks for conversations
// due to be erased; a purge a little after its date is fine.
const trashSweepEvery = 10 * time.Minute

func (s *Service) now() time.Time {
	if s.opts.Clock != nil {
		return s.opts.Clock()
	}
	return time.Now()
}

// TrashRetention is how long a deleted conversation can be restored.
func (s *Service) TrashRetention() time.Duration {
	if s.opts.TrashRetention > 0 {
		return s.opts.TrashRetention
	}
	return defaultTrashRetention
}

// DeleteConversation moves a conversation to the trash (admins only, as the
// old erase was): its members lose it at once, with a conversation_deleted
// frame, while everything of it stays for an admin to restore until the
// retention has passed.
func (s *Service) DeleteConversation(ctx context.Context, actor model.User, id int64) error {
	conv, _, err := s.Authorize(ctx, actor, id, ActAdmin)
	if err != nil {
		return err
	}
	ids, _ := s.memberIDs(ctx, id)
	at := s.now()
	if err := s.st.TrashConversation(ctx, id, actor.ID, at.UnixMilli()); err != nil {
		return err
	}
	s.audit(ctx, &actor, AuditConversationDelete, "conversation", id, map[string]any{
		"name": conv.Name, "kind": conv.Kind, "trash": true,
		"purge_at": model.Time{Time: at.Add(s.TrashRetention()).UTC()},
	})
	s.forgetMembers(id)
	s.hub.DropConversation(id)
	s.hub.PublishToUsers(ids, true, realtime.ConversationDeletedFrame{Type: "conversation_deleted", ConversationID: id})
	return nil
}

func (s *Service) requireAdmin(actor model.User) error {
	if actor.Disabled {
		return &model.Error{Kind: model.ErrUnauthorized, Msg: "account disabled"}
	}
	if actor.Role != model.RoleAdmin {
		return model.Forbidden("only admins can do this")
	}
	return nil
}

// Trash lists the conversations in the trash with their purge dates (admins only).
func (s *Service) Trash(ctx context.Context, actor model.User) ([]store.TrashedConversation, error) {
	if err := s.requireAdmin(actor); err != nil {
		return nil, err
	}
	list, err := s.st.Trash(ctx)
	if err != nil {
		return nil, err
	}
	for i := range list {
		list[i].PurgeAt = model.Time{Time: list[i].DeletedAt.Add(s.TrashRetention()).UTC()}
	}
	return list, nil
}

// RestoreConversation takes a conversation out of the trash (admins only,
// the same people who may delete one). Its members get it back live with a
// conversation_updated frame, as when a conversation is created; its
// messages, seqs and read markers are as they were.
func (s *Service) RestoreConversation(ctx context.Context, actor model.User, id int64) (model.Conversation, error) {
	if err := s.requireAdmin(actor); err != nil {
		return model.Conversation{}, err
	}
	conv, err := s.st.RestoreConversation(ctx, id)
	if err != nil {
		return conv, err
	}
	s.audit(ctx, &actor, AuditConversationRestore, "conversation", id, map[string]any{"name": conv.Name, "kind": conv.Kind})
	s.forgetMembers(id)
	ids, _ := s.memberIDs(ctx, id)
	s.hub.PublishToUsers(ids, true, realtime.ConversationFrame{Type: "conversation_updated", Conversation: conv})
	return s.Conversation(ctx, actor, id)
}

// PurgeTrash erases for good the conversations whose retention has passed,
// each with an audit entry of the system, and returns how many.
func (s *Service) PurgeTrash(ctx context.Context) (int, error) {
	before := s.now().Add(-s.TrashRetention())
	purged, err := s.st.PurgeTrash(ctx, before.UnixMilli())
	if err != nil {
		return 0, err
	}
	for _, p := range purged {
		s.audit(ctx, nil, AuditConversationPurge, "conversation", p.ID, map[string]any{
			"name": p.Name, "kind": p.Kind, "deleted_at": model.Millis(p.DeletedAt),
		})
	}
	return len(purged), nil
}

// trashLoop runs the retention sweep now and then.
func (s *Service) trashLoop() {
	defer s.bg.Done()
	t := time.NewTicker(trashSweepEvery)
	defer t.Stop()
	for {
		if _, err := s.PurgeTrash(context.Background()); err != nil {
			s.log.Error("trash purge failed", "err", err)
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}
