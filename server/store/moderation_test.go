package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"teamchat/server/model"
)

func openModStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "mod.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func modUser(t *testing.T, s *Store, name, role string) int64 {
	t.Helper()
	u, err := s.CreateUser(context.Background(), NewUser{Username: name, DisplayName: name, Role: role, PasswordHash: "x"})
	if err != nil {
		t.Fatalf("CreateUser %s: %v", name, err)
	}
	return u.ID
}

// The audit log is append-only at the database level: raw SQL UPDATE and
// DELETE abort on the triggers, whatever the WHERE clause.
func TestAuditLogTriggersRefuseUpdateAndDelete(t *testing.T) {
	s := openModStore(t)
	ctx := context.Background()
	admin := modUser(t, s, "prof", "admin")
	for i := range 3 {
		if err := s.AppendAudit(ctx, AuditEntry{ActorID: admin, Action: "member.mute", TargetType: "user", TargetID: int64(i + 10),
			Details: map[string]any{"minutes": i}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`UPDATE audit_log SET action = 'nothing' WHERE id = 1`,
		`UPDATE audit_log SET details = '{}'`,
		`DELETE FROM audit_log WHERE id = 2`,
		`DELETE FROM audit_log`,
		`INSERT OR REPLACE INTO audit_log (id, actor_id, action, target_type, details, created_at) VALUES (1, NULL, 'x', 'y', '{}', 0)`,
	} {
		_, err := s.w.ExecContext(ctx, q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", q, err)
		}
	}
	page, err := s.AuditLog(ctx, AuditFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 3 || page.Entries[0].ID != 3 || page.Entries[2].Action != "member.mute" ||
		string(page.Entries[2].Details) != `{"minutes":0}` || page.Entries[0].Actor == nil || page.Entries[0].Actor.ID != admin {
		t.Fatalf("entries changed: %+v", page.Entries)
	}
	// Details must be JSON.
	if _, err := s.w.ExecContext(ctx, `INSERT INTO audit_log (action, target_type, details, created_at) VALUES ('x', 'y', 'not json', 0)`); err == nil {
		t.Error("non-JSON details were stored")
	}
}

// Slow mode is decided inside the commit: concurrent batches from one sender
// store exactly one message within the interval.
func TestSlowModeHoldsAcrossConcurrentBatches(t *testing.T) {
	s := openModStore(t)
	ctx := context.Background()
	owner := modUser(t, s, "own", "user")
	stu := modUser(t, s, "stu", "user")
	c, err := s.CreateConversation(ctx, NewConversation{Name: "G", Kind: model.KindGroup, CreatorID: owner, MemberIDs: []int64{stu}})
	if err != nil {
		t.Fatal(err)
	}
	slow := 60
	if _, err := s.UpdateConversation(ctx, c.ID, ConversationPatch{SlowMode: &slow}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored, limited := 0, 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := []Append{{ConversationID: c.ID, SenderID: stu, Body: "a"}, {ConversationID: c.ID, SenderID: stu, Body: "b"},
				{ConversationID: c.ID, SenderID: owner, Body: "owner " + string(rune('a'+i))}}
			for j, r := range s.AppendMessages(ctx, batch) {
				mu.Lock()
				switch {
				case j == 2 && r.Err != nil:
					t.Errorf("owner refused: %v", r.Err)
				case j == 2:
				case r.Err == nil:
					stored++
				case errors.Is(r.Err, model.ErrRateLimited):
					limited++
				default:
					t.Errorf("unexpected %v", r.Err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if stored != 1 || limited != 15 {
		t.Fatalf("stored %d, limited %d", stored, limited)
	}
}

// A version-1 database (before moderation) migrates: its data stays and
// reads with the new fields at their defaults.
func TestMigrateVersion1Database(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := migrationFiles.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{string(v1),
		`INSERT INTO users (id, username, display_name, role, created_at) VALUES (1, 'stu', 'Stu', 'user', 1)`,
		`INSERT INTO conversations (id, name, kind, created_at, last_seq) VALUES (1, 'General', 'group', 1, 1)`,
		`INSERT INTO conversation_members VALUES (1, 1, 'member', 1)`,
		`INSERT INTO messages (conversation_id, seq, sender_id, body, created_at) VALUES (1, 1, 1, 'old', 1)`,
		`PRAGMA user_version = 1`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	db.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	defer s.Close()
	m, err := s.Message(ctx, 1)
	if err != nil || m.Body != "old" || m.Pinned {
		t.Fatalf("message after migration: %+v %v", m, err)
	}
	c, err := s.Conversation(ctx, 1)
	if err != nil || c.SlowMode != 0 {
		t.Fatalf("conversation after migration: %+v %v", c, err)
	}
	if r := s.AppendMessages(ctx, []Append{{ConversationID: 1, SenderID: 1, Body: "new"}}); r[0].Err != nil || r[0].Message.Seq != 2 {
		t.Fatalf("append after migration: %+v", r[0])
	}
}
