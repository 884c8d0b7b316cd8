package api_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"teamchat/server/config"
	"teamchat/server/servertest"
)

// testClock is a clock a test moves forward.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// nextOf returns the next frame of type typ about conversation id, skipping others.
func nextOf(t *testing.T, ws *servertest.WS, typ string, id int64) servertest.Frame {
	t.Helper()
	for {
		f := ws.Next()
		if f.Type() != typ {
			continue
		}
		if typ == "conversation_updated" {
			c, _ := f["conversation"].(map[string]any)
			if v, _ := c["id"].(float64); int64(v) != id {
				continue
			}
		} else if f.Int("conversation_id") != id {
			continue
		}
		return f
	}
}

func trashAudit(t *testing.T, admin *servertest.Client, action string) []map[string]any {
	t.Helper()
	var page struct {
		Entries []map[string]any `json:"entries"`
	}
	admin.Must(200, "GET", "/api/v1/audit?action="+action, nil).Decode(t, &page)
	return page.Entries
}

// A deleted conversation is gone for its members at once but kept whole: an
// admin finds it in the trash and restores it with its history and seqs, and
// the members get it back live.
func TestTrashDeleteAndRestore(t *testing.T) {
	f := setup(t)
	g := fmt.Sprintf("/api/v1/conversations/%d", f.group)
	sess := idOf(f.admin.Must(201, "POST", "/api/v1/sessions", map[string]any{"name": "Lecture"}))
	f.member.Must(201, "POST", g+"/messages", map[string]any{"body": "third"})
	before := f.member.Must(200, "GET", g+"/messages?after_seq=0", nil).JSON()["messages"].([]any)
	if len(before) != 3 {
		t.Fatalf("%d messages before the delete, want 3", len(before))
	}
	ws := f.member.DialWS()
	defer ws.Close()
	ws.Send(map[string]any{"type": "subscribe", "conversation_id": f.group})
	ws.Expect("subscribed")

	// Who may delete stays as it was: admins only.
	if r := f.owner.Do("DELETE", g, nil); r.Status != 403 || r.ErrCode() != "forbidden" {
		t.Fatalf("owner deletes: %d %s", r.Status, r.Body)
	}
	f.admin.Must(204, "DELETE", g, nil)
	nextOf(t, ws, "conversation_deleted", f.group)

	for _, c := range []struct{ method, path string }{
		{"GET", g}, {"GET", g + "/messages?after_seq=0"}, {"GET", g + "/members"},
	} {
		if r := f.member.Do(c.method, c.path, nil); r.Status != 404 || r.ErrCode() != "not_found" {
			t.Errorf("member %s %s after delete: %d %s", c.method, c.path, r.Status, r.Body)
		}
	}
	if r := f.member.Do("POST", g+"/messages", map[string]any{"body": "anyone?"}); r.Status != 404 || r.ErrCode() != "not_found" {
		t.Errorf("member posts after delete: %d %s", r.Status, r.Body)
	}
	// The classroom tools of a trashed conversation are gone with it.
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", g + "/hands", nil}, {"POST", g + "/hands", nil},
		{"GET", g + "/questions", nil}, {"POST", g + "/questions", map[string]any{"body": "still there?"}},
	} {
		if r := f.member.Do(c.method, c.path, c.body); r.Status != 404 || r.ErrCode() != "not_found" {
			t.Errorf("member %s %s after delete: %d %s", c.method, c.path, r.Status, r.Body)
		}
	}
	ws.Send(map[string]any{"type": "send", "conversation_id": f.group, "client_id": "late", "body": "late"})
	if e := ws.Expect("error"); e["code"] != "not_found" {
		t.Errorf("ws send after delete: %v", e)
	}
	var list struct {
		Conversations []struct{ ID int64 } `json:"conversations"`
	}
	for _, who := range []*servertest.Client{f.member, f.admin} {
		who.Must(200, "GET", "/api/v1/conversations", nil).Decode(t, &list)
		for _, c := range list.Conversations {
			if c.ID == f.group {
				t.Error("a trashed conversation is still listed")
			}
		}
	}
	if r := f.member.Must(200, "GET", "/api/v1/search?q=third", nil).JSON()["results"].([]any); len(r) != 0 {
		t.Errorf("search finds %d messages of a trashed conversation", len(r))
	}
	// Exports leave a trashed conversation out, and do not fail on it.
	if p := string(f.admin.Must(200, "GET", "/api/v1/participation?format=csv", nil).Body); strings.Contains(p, "Group A") {
		t.Errorf("participation still counts the trashed conversation:\n%s", p)
	}
	if tr := string(f.admin.Must(200, "GET", fmt.Sprintf("/api/v1/sessions/%d/transcript", sess), nil).Body); strings.Contains(tr, "Group A") {
		t.Errorf("session transcript shows the trashed conversation:\n%s", tr)
	}

	// The trash, for admins only.
	if r := f.member.Do("GET", "/api/v1/trash", nil); r.Status != 403 {
		t.Fatalf("student lists the trash: %d", r.Status)
	}
	var trash struct {
		Conversations []struct {
			Conversation struct {
				ID      int64  `json:"id"`
				Name    string `json:"name"`
				LastSeq int64  `json:"last_seq"`
			} `json:"conversation"`
			DeletedBy    struct{ Username string } `json:"deleted_by"`
			DeletedAt    time.Time                 `json:"deleted_at"`
			PurgeAt      time.Time                 `json:"purge_at"`
			MessageCount int64                     `json:"message_count"`
			MemberCount  int64                     `json:"member_count"`
		} `json:"conversations"`
		Retention int64 `json:"retention_seconds"`
	}
	f.admin.Must(200, "GET", "/api/v1/trash", nil).Decode(t, &trash)
	if len(trash.Conversations) != 1 {
		t.Fatalf("trash has %d conversations, want 1", len(trash.Conversations))
	}
	tc := trash.Conversations[0]
	if tc.Conversation.ID != f.group || tc.Conversation.Name != "Group A" || tc.DeletedBy.Username != "prof" ||
		tc.MessageCount != 3 || tc.MemberCount != 2 || tc.Conversation.LastSeq != 3 {
		t.Fatalf("trash entry: %+v", tc)
	}
	if trash.Retention != int64((30*24*time.Hour).Seconds()) || !tc.PurgeAt.Equal(tc.DeletedAt.Add(30*24*time.Hour)) {
		t.Fatalf("retention %d s, deleted %v, purge %v", trash.Retention, tc.DeletedAt, tc.PurgeAt)
	}

	// Only admins restore.
	restore := fmt.Sprintf("/api/v1/trash/%d/restore", f.group)
	for _, who := range []*servertest.Client{f.owner, f.member, f.guest} {
		if r := who.Do("POST", restore, nil); r.Status != 403 || r.ErrCode() != "forbidden" {
			t.Fatalf("non-admin restores: %d %s", r.Status, r.Body)
		}
	}
	if r := f.admin.Do("POST", "/api/v1/trash/424242/restore", nil); r.Status != 404 || r.ErrCode() != "not_found" {
		t.Fatalf("restore of nothing: %d %s", r.Status, r.Body)
	}
	f.admin.Must(200, "POST", restore, nil)
	back := nextOf(t, ws, "conversation_updated", f.group)
	if c := back["conversation"].(map[string]any); c["name"] != "Group A" || c["last_seq"].(float64) != 3 {
		t.Fatalf("restore frame: %v", back)
	}
	if r := f.admin.Do("POST", restore, nil); r.Status != 404 {
		t.Fatalf("restoring twice: %d", r.Status)
	}
	after := f.member.Must(200, "GET", g+"/messages?after_seq=0", nil).JSON()["messages"].([]any)
	if len(after) != 3 {
		t.Fatalf("%d messages after the restore, want 3", len(after))
	}
	for i := range before {
		b, a := before[i].(map[string]any), after[i].(map[string]any)
		if b["id"] != a["id"] || b["seq"] != a["seq"] || b["body"] != a["body"] {
			t.Fatalf("message %d changed: %v → %v", i, b, a)
		}
	}
	if r := f.member.Must(201, "POST", g+"/messages", map[string]any{"body": "we're back"}); r.JSON()["seq"].(float64) != 4 {
		t.Fatalf("first message after the restore: %s, want seq 4", r.Body)
	}
	f.admin.Must(200, "GET", "/api/v1/trash", nil).Decode(t, &trash)
	if len(trash.Conversations) != 0 {
		t.Fatalf("trash still has %d conversations", len(trash.Conversations))
	}
	del := trashAudit(t, f.admin, "conversation.delete")
	res := trashAudit(t, f.admin, "conversation.restore")
	if len(del) != 1 || len(res) != 1 {
		t.Fatalf("audit: %d deletes, %d restores; want 1 and 1", len(del), len(res))
	}
	if a := res[0]["actor"].(map[string]any); a["username"] != "prof" || res[0]["target_id"].(float64) != float64(f.group) {
		t.Fatalf("restore audit entry: %v", res[0])
	}
}

// After the retention the sweep erases a trashed conversation for good,
// written to the audit log; before it, nothing goes.
func TestTrashPurgeAfterRetention(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	env := servertest.Start(t, func(c *config.Config) { c.Clock, c.TrashRetention = clock.Now, 48*time.Hour })
	admin := env.AddUser("prof", "admin")
	student := env.AddUser("sam", "user")
	mk := func(name string) int64 {
		id := idOf(admin.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": name, "member_ids": []int64{student.ID()}}))
		student.Must(201, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", id), map[string]any{"body": "hi " + name})
		return id
	}
	old, young := mk("Old"), mk("Young")
	admin.Must(204, "DELETE", fmt.Sprintf("/api/v1/conversations/%d", old), nil)
	clock.Add(24 * time.Hour)
	admin.Must(204, "DELETE", fmt.Sprintf("/api/v1/conversations/%d", young), nil)

	chat := env.Srv.Chat()
	clock.Add(24*time.Hour - time.Second)
	if n, err := chat.PurgeTrash(t.Context()); err != nil || n != 0 {
		t.Fatalf("purge before the retention: %d, %v", n, err)
	}
	clock.Add(2 * time.Second)
	if n, err := chat.PurgeTrash(t.Context()); err != nil || n != 1 {
		t.Fatalf("purge after the retention of the first: %d, %v; want 1", n, err)
	}
	var trash struct {
		Conversations []struct {
			Conversation struct{ ID int64 } `json:"conversation"`
		} `json:"conversations"`
	}
	admin.Must(200, "GET", "/api/v1/trash", nil).Decode(t, &trash)
	if len(trash.Conversations) != 1 || trash.Conversations[0].Conversation.ID != young {
		t.Fatalf("trash after the purge: %+v, want only %d", trash.Conversations, young)
	}
	if r := admin.Do("POST", fmt.Sprintf("/api/v1/trash/%d/restore", old), nil); r.Status != 404 {
		t.Fatalf("restore after the purge: %d %s", r.Status, r.Body)
	}
	purges := trashAudit(t, admin, "conversation.purge")
	if len(purges) != 1 || purges[0]["target_id"].(float64) != float64(old) || purges[0]["actor"] != nil {
		t.Fatalf("purge audit: %v", purges)
	}
	if d := purges[0]["details"].(map[string]any); d["name"] != "Old" {
		t.Fatalf("purge audit details: %v", d)
	}
	// The younger one is still whole and restorable.
	admin.Must(200, "POST", fmt.Sprintf("/api/v1/trash/%d/restore", young), nil)
	msgs := student.Must(200, "GET", fmt.Sprintf("/api/v1/conversations/%d/messages?after_seq=0", young), nil).JSON()["messages"].([]any)
	if len(msgs) != 1 {
		t.Fatalf("restored conversation has %d messages, want 1", len(msgs))
	}
}

// trashedFixture makes a conversation and deletes it into the trash.
func trashedFixture(t *testing.T, admin *servertest.Client) int64 {
	t.Helper()
	id := idOf(admin.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Bin"}))
	admin.Must(204, "DELETE", fmt.Sprintf("/api/v1/conversations/%d", id), nil)
	return id
}
