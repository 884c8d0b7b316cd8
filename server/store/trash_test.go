package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"teamchat/server/model"
)

// eraseConversation is what a delete came to before the trash: into the trash
// and purged at once.
func eraseConversation(ctx context.Context, s *Store, id int64) error {
	if err := s.TrashConversation(ctx, id, 0, 1); err != nil {
		return err
	}
	purged, err := s.PurgeTrash(ctx, 2)
	if err != nil {
		return err
	}
	if len(purged) != 1 || purged[0].ID != id {
		return fmt.Errorf("purged %v, want conversation %d", purged, id)
	}
	return nil
}

// A trashed conversation keeps its rows, hidden from lookups, lists and
// search, and comes back whole; the purge takes only what is due.
func TestTrashKeepsRestoresAndPurges(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.s, context.Background()
	for i := range 3 {
		if r := appendOne(t, s, ctx, Append{ConversationID: f.conv, SenderID: f.member, ClientID: fmt.Sprint("t", i), Body: "walrus"}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if err := s.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.TrashConversation(ctx, f.conv, f.owner, 1000); err != nil {
		t.Fatal(err)
	}
	if err := s.TrashConversation(ctx, f.conv, f.owner, 1000); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("trashing twice: %v, want not found", err)
	}
	if _, err := s.Conversation(ctx, f.conv); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("lookup of a trashed conversation: %v, want not found", err)
	}
	list, err := s.ListConversations(ctx, f.owner, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if c.ID == f.conv {
			t.Fatal("a trashed conversation is listed")
		}
	}
	if r := appendOne(t, s, ctx, Append{ConversationID: f.conv, SenderID: f.member, ClientID: "late", Body: "late"}); !errors.Is(r.Err, model.ErrNotFound) {
		t.Fatalf("send to a trashed conversation: %v, want not found", r.Err)
	}
	page, err := s.Search(ctx, SearchQuery{Text: "walrus", UserID: f.member, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Results) != 0 {
		t.Fatalf("search finds %d messages of a trashed conversation", len(page.Results))
	}
	trash, err := s.Trash(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(trash) != 1 || trash[0].Conversation.ID != f.conv || trash[0].MessageCount != 3 || trash[0].DeletedBy == nil || trash[0].DeletedBy.ID != f.owner {
		t.Fatalf("trash: %+v", trash)
	}
	if purged, err := s.PurgeTrash(ctx, 1000); err != nil || len(purged) != 0 {
		t.Fatalf("purge before the due time: %v, %v", purged, err)
	}
	c, err := s.RestoreConversation(ctx, f.conv)
	if err != nil {
		t.Fatal(err)
	}
	if c.LastSeq != 3 {
		t.Fatalf("restored last_seq %d, want 3", c.LastSeq)
	}
	if page, err := s.Search(ctx, SearchQuery{Text: "walrus", UserID: f.member, Limit: 10}); err != nil || len(page.Results) != 3 {
		t.Fatalf("search after restore: %d results, %v; want 3", len(page.Results), err)
	}
	if _, err := s.RestoreConversation(ctx, f.conv); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("restoring twice: %v, want not found", err)
	}
	if r := appendOne(t, s, ctx, Append{ConversationID: f.conv, SenderID: f.member, ClientID: "after", Body: "after"}); r.Err != nil || r.Message.Seq != 4 {
		t.Fatalf("send after restore: seq %d, %v; want 4", r.Message.Seq, r.Err)
	}
	if err := eraseConversation(ctx, s, f.conv); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, s.r, "SELECT count(*) FROM messages WHERE conversation_id = ?", f.conv); n != 0 {
		t.Fatalf("%d messages left after the purge", n)
	}
}

// A direct conversation's key is free while it is in the trash; a restore
// refuses when the two have started a new one.
func TestTrashDirectKey(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.s, context.Background()
	nc := NewConversation{Name: "a & b", Kind: model.KindDirect, CreatorID: f.owner, MemberIDs: []int64{f.member}, DirectKey: "k"}
	first, err := s.CreateConversation(ctx, nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.TrashConversation(ctx, first.ID, f.owner, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DirectConversation(ctx, "k"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("direct lookup finds a trashed conversation: %v", err)
	}
	second, err := s.CreateConversation(ctx, nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RestoreConversation(ctx, first.ID); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("restore beside a newer direct conversation: %v, want conflict", err)
	}
	if err := s.TrashConversation(ctx, second.ID, f.owner, 6); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RestoreConversation(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	if c, err := s.DirectConversation(ctx, "k"); err != nil || c.ID != first.ID {
		t.Fatalf("direct lookup after restore: %v, %v", c.ID, err)
	}
}
