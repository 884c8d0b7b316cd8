package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not synchronizing
	}
}

// ftsIDs are the message ids the full-text index itself returns for a word
// (no join with messages, so a stale entry would show).
func ftsIDs(t *testing.T, s *Store, word string) []int64 {
	t.Helper()
	ids, err := s.queryIDs(context.Background(), "fts", `SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid`, FTSQuery(word))
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// ftsIntegrity checks the index against the messages table: every message up
// to the mark indexed with its current body, nothing else.
func ftsIntegrity(t *testing.T, s *Store) {
	t.Helper()
	if _, err := s.w.Exec(`INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Fatalf("full-text index does not match the messages: %v", err)
	}
}

// pauseIndexer stops a store's indexer, as if the process died right after
// its commits.
func pauseIndexer(s *Store) { s.idx.close() }

func TestMessageSearchableShortlyAfterCommit(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.s, context.Background()
	res := appendOne(t, s, ctx, Append{ConversationID: f.conv, SenderID: f.member, Body: "the aardvark lecture"})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	// The indexer alone, no search asking for it.
	waitFor(t, "the indexer to reach the message", func() bool { n, err := s.IndexedThrough(ctx); return err == nil && n >= res.Message.ID })
	if ids := ftsIDs(t, s, "aardvark"); len(ids) != 1 || ids[0] != res.Message.ID {
		t.Fatalf("index has %v for aardvark, want [%d]", ids, res.Message.ID)
	}
	// A search right after a commit finds the message too: it has the
	// indexer run first.
	res2 := appendOne(t, s, ctx, Append{ConversationID: f.conv, SenderID: f.member, Body: "second aardvark"})
	page, err := s.Search(ctx, SearchQuery{Text: "aardvark", UserID: f.member, Limit: 10})
	if err != nil || len(page.Results) != 2 || page.Results[0].Message.ID != res2.Message.ID {
		t.Fatalf("search right after the commit: %+v %v", page, err)
	}
	ftsIntegrity(t, s)
}

func TestIndexerCatchesUpAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	ctx := context.Background()
	s := openAt(t, path)
	owner := mustUser(t, s, "olivia", "user")
	conv := mustConv(t, s, "Group", owner)
	first := appendOne(t, s, ctx, Append{ConversationID: conv, SenderID: owner, Body: "indexed before the crash"})
	if err := s.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	pauseIndexer(s)
	batch := make([]Append, 300)
	for i := range batch {
		batch[i] = Append{ConversationID: conv, SenderID: owner, Body: "walrus tail message"}
	}
	var newest int64
	for _, r := range s.AppendMessages(ctx, batch) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		newest = r.Message.ID
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw := rawDB(t, path, 1000)
	if mark := queryInt(t, raw, `SELECT last_id FROM fts_progress`); mark != first.Message.ID {
		t.Fatalf("mark %d before the restart, want %d (the tail not indexed)", mark, first.Message.ID)
	}
	raw.Close()

	s2 := openAt(t, path)
	waitFor(t, "the indexer to catch up after the restart", func() bool { n, err := s2.IndexedThrough(ctx); return err == nil && n >= newest })
	if ids := ftsIDs(t, s2, "walrus"); len(ids) != len(batch) {
		t.Fatalf("%d of %d tail messages indexed", len(ids), len(batch))
	}
	if ids := ftsIDs(t, s2, "crash"); len(ids) != 1 || ids[0] != first.Message.ID {
		t.Fatalf("indexed twice or lost: %v", ids)
	}
	ftsIntegrity(t, s2)
}

func TestEditOfUnindexedMessageIndexesNewTextOnly(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.s, context.Background()
	indexed := appendOne(t, s, ctx, Append{ConversationID: f.conv, SenderID: f.member, Body: "zebra crossing"})
	if err := s.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	path := s.path
	pauseIndexer(s)
	tail := appendOne(t, s, ctx, Append{ConversationID: f.conv, SenderID: f.member, Body: "zebra stripes"})
	if _, _, err := s.EditMessage(ctx, tail.Message.ID, "giraffe neck", false); err != nil {
		t.Fatal(err)
	}
	// An indexed message edited meanwhile is re-indexed at once by the trigger.
	if _, _, err := s.EditMessage(ctx, indexed.Message.ID, "okapi crossing", false); err != nil {
		t.Fatal(err)
	}
	if ids := ftsIDs(t, s, "okapi"); len(ids) != 1 || ids[0] != indexed.Message.ID {
		t.Fatalf("indexed message after its edit: %v", ids)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openAt(t, path)
	if err := s2.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := ftsIDs(t, s2, "zebra"); len(ids) != 0 {
		t.Fatalf("old text still indexed: %v", ids)
	}
	if ids := ftsIDs(t, s2, "giraffe"); len(ids) != 1 || ids[0] != tail.Message.ID {
		t.Fatalf("new text: %v", ids)
	}
	ftsIntegrity(t, s2)
}

func TestDeleteLeavesTheIndex(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.s, context.Background()
	indexed := appendOne(t, s, ctx, Append{ConversationID: f.conv, SenderID: f.member, Body: "quokka smile"})
	if err := s.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.DeleteMessage(ctx, indexed.Message.ID, f.owner); err != nil || !ok {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if ids := ftsIDs(t, s, "quokka"); len(ids) != 0 {
		t.Fatalf("a deleted message is still indexed: %v", ids)
	}
	// Deleted before the indexer got to it.
	path := s.path
	pauseIndexer(s)
	tail := appendOne(t, s, ctx, Append{ConversationID: f.conv, SenderID: f.member, Body: "quokka jump"})
	if ok, err := s.DeleteMessage(ctx, tail.Message.ID, f.owner); err != nil || !ok {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openAt(t, path)
	if err := s2.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := ftsIDs(t, s2, "quokka"); len(ids) != 0 {
		t.Fatalf("a deleted message is indexed: %v", ids)
	}
	ftsIntegrity(t, s2)
}

func TestRemovedNewestMessagesLetTheirIdsBeIndexedAgain(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.s, context.Background()
	keep := appendOne(t, s, ctx, Append{ConversationID: f.conv, SenderID: f.member, Body: "kept narwhal"})
	other := mustConv(t, s, "Other", f.owner, f.member)
	gone := appendOne(t, s, ctx, Append{ConversationID: other, SenderID: f.member, Body: "removed narwhal"})
	if err := s.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	// Deleting the conversation removes the newest message; SQLite may hand
	// its id out again.
	if err := s.DeleteConversation(ctx, other); err != nil {
		t.Fatal(err)
	}
	again := appendOne(t, s, ctx, Append{ConversationID: f.conv, SenderID: f.member, Body: "reborn narwhal"})
	if err := s.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	ids := ftsIDs(t, s, "narwhal")
	if len(ids) != 2 || ids[0] != keep.Message.ID || ids[1] != again.Message.ID {
		t.Fatalf("index has %v; kept %d, removed %d, new %d", ids, keep.Message.ID, gone.Message.ID, again.Message.ID)
	}
	if ids := ftsIDs(t, s, "reborn"); len(ids) != 1 {
		t.Fatalf("the new message under a reused id is not indexed: %v", ids)
	}
	ftsIntegrity(t, s)
}
