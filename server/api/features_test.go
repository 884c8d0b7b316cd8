package api_test

import (
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"teamchat/server"
	"teamchat/server/config"
	"teamchat/server/servertest"
)

// Everyday features (issue 8): edits, reactions, replies, mentions,
// notification mutes and search, over REST and WebSocket, per role.

func msgPath(id int64, suffix string) string { return fmt.Sprintf("/api/v1/messages/%d%s", id, suffix) }

// execDB runs a statement on the server's database file through a second
// connection (to move time back, as a clock would).
func execDB(t *testing.T, env *servertest.Env, q string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(env.DataDir, server.DBFile)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func subscribe(t *testing.T, c *servertest.Client, conv int64) *servertest.WS {
	t.Helper()
	ws := c.DialWS()
	ws.Send(map[string]any{"type": "subscribe", "conversation_id": conv})
	waitFrame(t, ws, frameOf("subscribed"))
	return ws
}

func TestEditMessage(t *testing.T) {
	c := newModClass(t)
	ws := subscribe(t, c.stu2, c.g1)
	m := idOf(c.stu.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "The answer is 41"}))

	// Only the sender edits: not owners, not admins (they delete); outsiders get 404.
	for who, cl := range map[string]*servertest.Client{"owner": c.own1, "admin": c.admin, "member": c.stu2} {
		if r := cl.Do("PATCH", msgPath(m, ""), map[string]any{"body": "rewritten"}); r.Status != 403 {
			t.Errorf("%s editing another's message: %d %s", who, r.Status, r.Body)
		}
	}
	if r := c.outsider.Do("PATCH", msgPath(m, ""), map[string]any{"body": "x"}); r.Status != 404 {
		t.Errorf("outsider: %d %s", r.Status, r.Body)
	}
	r := c.stu.Must(200, "PATCH", msgPath(m, ""), map[string]any{"body": "The answer is 42"}).JSON()
	if r["body"] != "The answer is 42" || r["edited_at"] == nil || int64(r["seq"].(float64)) != 1 {
		t.Fatalf("edited message: %v", r)
	}
	f := waitFrame(t, ws, frameOf("message_edited"))
	if f.Message()["body"] != "The answer is 42" || f.Int("conversation_id") != c.g1 {
		t.Errorf("message_edited frame: %v", f)
	}
	// History keeps the earlier text; only admins read it.
	c.stu.Must(200, "PATCH", msgPath(m, ""), map[string]any{"body": "The answer is 42"}) // unchanged: no entry
	c.stu.Must(200, "PATCH", msgPath(m, ""), map[string]any{"body": "The answer is 42!"})
	edits := c.admin.Must(200, "GET", msgPath(m, "/edits"), nil).JSON()["edits"].([]any)
	if len(edits) != 2 || edits[0].(map[string]any)["body"] != "The answer is 41" || edits[1].(map[string]any)["body"] != "The answer is 42" {
		t.Errorf("edits: %v", edits)
	}
	if r := c.stu.Do("GET", msgPath(m, "/edits"), nil); r.Status != 403 {
		t.Errorf("student reading edit history: %d", r.Status)
	}
	// The stored page shows the edit.
	page := c.stu2.Must(200, "GET", msgsPath(c.g1), nil).JSON()["messages"].([]any)
	if got := page[0].(map[string]any); got["body"] != "The answer is 42!" || got["edited_at"] == nil {
		t.Errorf("history after edit: %v", got)
	}
	// Bad bodies, deleted messages, mutes, the window.
	if r := c.stu.Do("PATCH", msgPath(m, ""), map[string]any{"body": "  "}); r.Status != 400 {
		t.Errorf("empty edit: %d", r.Status)
	}
	c.own1.Must(201, "POST", mutesPath(c.g1), map[string]any{"user_id": c.stuID, "minutes": 5})
	if r := c.stu.Do("PATCH", msgPath(m, ""), map[string]any{"body": "while muted"}); r.Status != 403 || !strings.Contains(errMsg(r), "muted") {
		t.Errorf("edit while muted: %d %s", r.Status, r.Body)
	}
	c.own1.Must(204, "DELETE", fmt.Sprintf("%s/%d", mutesPath(c.g1), c.stuID), nil)
	execDB(t, c.env, `UPDATE messages SET created_at = created_at - 16*60*1000 WHERE id = ?`, m)
	if r := c.stu.Do("PATCH", msgPath(m, ""), map[string]any{"body": "too late"}); r.Status != 403 || !strings.Contains(errMsg(r), "15 minutes") {
		t.Errorf("edit after the window: %d %s", r.Status, r.Body)
	}
	c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"edit_window_minutes": 30})
	c.stu.Must(200, "PATCH", msgPath(m, ""), map[string]any{"body": "in a longer window"})
	c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"edit_window_minutes": 0})
	if r := c.stu.Do("PATCH", msgPath(m, ""), map[string]any{"body": "off"}); r.Status != 403 {
		t.Errorf("edit with editing off: %d %s", r.Status, r.Body)
	}
	if r := c.admin.Do("PATCH", "/api/v1/settings", map[string]any{"edit_window_minutes": 1441}); r.Status != 400 {
		t.Errorf("edit window out of range: %d", r.Status)
	}
	c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"edit_window_minutes": 15})
	m2 := idOf(c.stu.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "to delete"}))
	c.stu.Must(204, "DELETE", msgPath(m2, ""), nil)
	if r := c.stu.Do("PATCH", msgPath(m2, ""), map[string]any{"body": "resurrect"}); r.Status != 400 {
		t.Errorf("editing a deleted message: %d %s", r.Status, r.Body)
	}
}

func TestReactions(t *testing.T) {
	c := newModClass(t)
	ws := subscribe(t, c.stu2, c.g1)
	m := idOf(c.stu.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "Quiz tomorrow?"}))
	thumbs := msgPath(m, "/reactions/"+url.PathEscape("👍"))
	r := c.stu2.Must(200, "PUT", thumbs, nil).JSON()["reactions"].([]any)
	if len(r) != 1 || r[0].(map[string]any)["count"].(float64) != 1 {
		t.Fatalf("reactions after one: %v", r)
	}
	f := waitFrame(t, ws, frameOf("reaction_added"))
	if f["emoji"] != "👍" || f.Int("user_id") != c.stu2ID || f.Int("message_id") != m {
		t.Errorf("reaction_added: %v", f)
	}
	c.stu2.Must(200, "PUT", thumbs, nil) // again: nothing changes
	c.admin.Must(200, "PUT", thumbs, nil)
	c.own1.Must(200, "PUT", msgPath(m, "/reactions/"+url.PathEscape("👩🏽‍🔬")), nil) // ZWJ sequence with a skin tone
	got := c.stu.Must(200, "GET", msgsPath(c.g1), nil).JSON()["messages"].([]any)[0].(map[string]any)["reactions"].([]any)
	if len(got) != 2 {
		t.Fatalf("reactions: %v", got)
	}
	first := got[0].(map[string]any)
	if first["emoji"] != "👍" || first["count"].(float64) != 2 || fmt.Sprint(first["user_ids"]) != fmt.Sprint([]any{float64(c.stu2ID), float64(c.adminID)}) {
		t.Errorf("👍 reaction: %v", first)
	}
	c.stu2.Must(200, "DELETE", thumbs, nil)
	f = waitFrame(t, ws, frameOf("reaction_removed"))
	if l := f["reactions"].([]any); l[0].(map[string]any)["count"].(float64) != 1 {
		t.Errorf("reaction_removed list: %v", f)
	}
	// Not an emoji, several emoji, text: 400. Outsiders: 404. Deleted: 400.
	for _, bad := range []string{"x", "👍👍", "ok", "<script>", "%20", "🇫"} {
		if r := c.stu.Do("PUT", msgPath(m, "/reactions/"+url.PathEscape(bad)), nil); r.Status != 400 {
			t.Errorf("reaction %q: %d %s", bad, r.Status, r.Body)
		}
	}
	for _, good := range []string{"🇫🇷", "1️⃣", "❤️", "✅"} {
		c.stu.Must(200, "PUT", msgPath(m, "/reactions/"+url.PathEscape(good)), nil)
	}
	if r := c.outsider.Do("PUT", thumbs, nil); r.Status != 404 {
		t.Errorf("outsider reacting: %d", r.Status)
	}
	// Muted: refused (A26: every path of a muted user is blocked).
	c.own1.Must(201, "POST", mutesPath(c.g1), map[string]any{"user_id": c.stu2ID, "minutes": 5})
	if r := c.stu2.Do("PUT", thumbs, nil); r.Status != 403 || !strings.Contains(errMsg(r), "muted") {
		t.Errorf("reacting while muted: %d %s", r.Status, r.Body)
	}
	c.own1.Must(204, "DELETE", fmt.Sprintf("%s/%d", mutesPath(c.g1), c.stu2ID), nil)
	// Locked: reactions still allowed; paused: refused for students.
	c.own1.Must(200, "PATCH", convPath(c.g1), map[string]any{"locked": true})
	c.stu2.Must(200, "PUT", thumbs, nil)
	c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"paused": true})
	if r := c.stu.Do("PUT", msgPath(m, "/reactions/"+url.PathEscape("🎉")), nil); r.Status != 403 {
		t.Errorf("reacting while paused: %d", r.Status)
	}
	c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"paused": false})
	c.stu.Must(204, "DELETE", msgPath(m, ""), nil)
	if r := c.stu2.Do("PUT", thumbs, nil); r.Status != 400 {
		t.Errorf("reacting to a deleted message: %d", r.Status)
	}
}

func TestReactionsRateLimited(t *testing.T) {
	env := servertest.Start(t, func(cfg *config.Config) { cfg.MsgRate, cfg.MsgBurst = 1, 3 })
	stu := env.AddUser("stu", "user")
	conv := idOf(stu.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "G"}))
	m := idOf(stu.Must(201, "POST", msgsPath(conv), map[string]any{"body": "hi"}))
	limited := false
	for i := 0; i < 10 && !limited; i++ {
		method := "PUT"
		if i%2 == 1 {
			method = "DELETE"
		}
		r := stu.Do(method, msgPath(m, "/reactions/"+url.PathEscape("👍")), nil)
		limited = r.Status == 429 && r.Header.Get("Retry-After") != ""
	}
	if !limited {
		t.Error("ten reaction toggles in a row were never rate limited")
	}
}

func TestRepliesAndThreads(t *testing.T) {
	c := newModClass(t)
	ws := subscribe(t, c.stu2, c.g1)
	parent := idOf(c.own1.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": strings.Repeat("long question ", 30)}))
	other := idOf(c.own2.Must(201, "POST", msgsPath(c.g2), map[string]any{"body": "in g2"}))
	// A reply by REST and one by WebSocket.
	r1 := c.stu.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "first reply", "reply_to": parent}).JSON()
	quote := r1["reply_to"].(map[string]any)
	if int64(quote["id"].(float64)) != parent || len([]rune(quote["body"].(string))) != 200 || quote["sender"].(map[string]any)["username"] != "owner1" {
		t.Errorf("reply_to preview: %v", quote)
	}
	ack := sendWith(t, ws, map[string]any{"type": "send", "conversation_id": c.g1, "client_id": "r2", "body": "second reply", "reply_to": parent})
	if ack.Type() != "ack" || ack.Message()["reply_to"] == nil {
		t.Fatalf("reply over WebSocket: %v", ack)
	}
	// Replies to a message of another conversation, or a deleted one: 400.
	if r := c.stu.Do("POST", msgsPath(c.g1), map[string]any{"body": "x", "reply_to": other}); r.Status != 400 {
		t.Errorf("reply across conversations: %d %s", r.Status, r.Body)
	}
	th := c.stu2.Must(200, "GET", msgPath(parent, "/replies"), nil).JSON()
	replies := th["replies"].([]any)
	if len(replies) != 2 || replies[0].(map[string]any)["body"] != "first reply" || th["message"].(map[string]any)["reply_count"].(float64) != 2 {
		t.Errorf("thread: %v", th)
	}
	if r := c.outsider.Do("GET", msgPath(parent, "/replies"), nil); r.Status != 404 {
		t.Errorf("outsider reading a thread: %d", r.Status)
	}
	c.stu.Must(204, "DELETE", msgPath(int64(r1["id"].(float64)), ""), nil)
	th = c.stu2.Must(200, "GET", msgPath(parent, "/replies"), nil).JSON()
	if th["message"].(map[string]any)["reply_count"].(float64) != 1 {
		t.Errorf("reply_count after a deleted reply: %v", th["message"])
	}
	c.own1.Must(204, "DELETE", msgPath(parent, ""), nil)
	if r := c.stu.Do("POST", msgsPath(c.g1), map[string]any{"body": "x", "reply_to": parent}); r.Status != 400 {
		t.Errorf("reply to a deleted message: %d", r.Status)
	}
	// The quoted preview of a deleted message hides its text.
	page := c.stu2.Must(200, "GET", msgsPath(c.g1), nil).JSON()["messages"].([]any)
	last := page[len(page)-1].(map[string]any)["reply_to"].(map[string]any)
	if last["deleted"] != true || last["body"] != "" {
		t.Errorf("preview of a deleted message: %v", last)
	}
}

// sendWith sends a frame and waits for its ack or error.
func sendWith(t *testing.T, ws *servertest.WS, frame map[string]any) servertest.Frame {
	t.Helper()
	ws.Send(frame)
	return waitFrame(t, ws, func(f servertest.Frame) bool {
		return (f.Type() == "ack" || f.Type() == "error") && f["client_id"] == frame["client_id"]
	})
}

func TestMentions(t *testing.T) {
	c := newModClass(t)
	stuWS := c.stu.DialWS() // not subscribed to g1: still told about mentions
	m := c.stu2.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "@STU look, and @prof too; @outsider is not here; mail me at a@stu.org"}).JSON()
	if fmt.Sprint(m["mentions"]) != fmt.Sprint([]any{float64(c.adminID), float64(c.stuID)}) {
		t.Errorf("mentions: %v (stu %d, prof %d)", m["mentions"], c.stuID, c.adminID)
	}
	f := waitFrame(t, stuWS, frameOf("mentioned"))
	if f.Message()["body"] == nil || f.Int("conversation_id") != c.g1 {
		t.Errorf("mentioned frame: %v", f)
	}
	// @all: only from owners and admins.
	if r := c.stu2.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "@all hello"}).JSON(); r["mention_all"] != nil || r["mentions"] != nil { // omitted when empty
		t.Errorf("@all from a student: %v", r)
	}
	all := c.own1.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "@all quiz now"}).JSON()
	if all["mention_all"] != true || len(all["mentions"].([]any)) != 3 { // own2, stu, stu2
		t.Errorf("@all from the owner: %v", all)
	}
	list := c.stu.Must(200, "GET", "/api/v1/mentions", nil).JSON()["messages"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["body"] != "@all quiz now" {
		t.Errorf("mentions view: %v", list)
	}
	convs := c.stu.Must(200, "GET", "/api/v1/conversations", nil).JSON()
	unread := mentionsOf(t, c.stu, c.g1)
	if unread != 2 {
		t.Errorf("unread_mentions = %d, want 2 (%v)", unread, convs)
	}
	c.stu.Must(204, "POST", fmt.Sprintf("/api/v1/conversations/%d/read", c.g1), map[string]any{"seq": 3})
	if n := mentionsOf(t, c.stu, c.g1); n != 0 {
		t.Errorf("unread_mentions after reading = %d", n)
	}
	// Removed from the conversation: its mentions are gone from the view.
	c.own1.Must(204, "DELETE", fmt.Sprintf("/api/v1/conversations/%d/members/%d", c.g1, c.stuID), nil)
	if l := c.stu.Must(200, "GET", "/api/v1/mentions", nil).JSON()["messages"].([]any); len(l) != 0 {
		t.Errorf("mentions after removal: %v", l)
	}
	// An edit that adds a mention records it.
	e := idOf(c.stu2.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "hello"}))
	c.stu2.Must(200, "PATCH", msgPath(e, ""), map[string]any{"body": "hello @owner2"})
	if l := c.own2.Must(200, "GET", "/api/v1/mentions", nil).JSON()["messages"].([]any); len(l) != 2 {
		t.Errorf("owner2's mentions after the edit: %d", len(l))
	}
}

func mentionsOf(t *testing.T, c *servertest.Client, conv int64) int64 {
	t.Helper()
	for _, v := range c.Must(200, "GET", "/api/v1/conversations", nil).JSON()["conversations"].([]any) {
		cv := v.(map[string]any)
		if int64(cv["id"].(float64)) == conv {
			return int64(cv["unread_mentions"].(float64))
		}
	}
	t.Fatalf("conversation %d not listed", conv)
	return 0
}

func TestNotificationMute(t *testing.T) {
	c := newModClass(t)
	c.stu.Must(204, "PUT", convPath(c.g1)+"/notifications", map[string]any{"muted": true})
	listed := func() bool {
		for _, v := range c.stu.Must(200, "GET", "/api/v1/conversations", nil).JSON()["conversations"].([]any) {
			cv := v.(map[string]any)
			if int64(cv["id"].(float64)) == c.g1 {
				return cv["notifications_muted"] == true
			}
		}
		return false
	}
	if !listed() {
		t.Error("notifications_muted not true after muting")
	}
	if one := c.stu.Must(200, "GET", convPath(c.g1), nil).JSON(); one["notifications_muted"] != true {
		t.Errorf("GET conversation: notifications_muted = %v", one["notifications_muted"])
	}
	if r := c.stu.Do("PUT", convPath(c.g1)+"/notifications", map[string]any{}); r.Status != 400 {
		t.Errorf("mute without a value: %d", r.Status)
	}
	c.stu.Must(204, "PUT", convPath(c.g1)+"/notifications", map[string]any{"muted": false})
	if listed() {
		t.Error("notifications_muted still true")
	}
	if r := c.outsider.Do("PUT", convPath(c.g1)+"/notifications", map[string]any{"muted": true}); r.Status != 404 {
		t.Errorf("outsider: %d", r.Status)
	}
}

func TestSearch(t *testing.T) {
	c := newModClass(t)
	for _, b := range []string{"Café au lait notes for the lecture", "The lecture moves to room 4", `He said "NOT (x OR y)" AND left`, "naïve Bayes in 東京"} {
		c.stu.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": b})
	}
	c.own2.Must(201, "POST", msgsPath(c.g2), map[string]any{"body": "secret lecture plan in group 2"})
	del := idOf(c.stu.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "deleted lecture words"}))
	c.stu.Must(204, "DELETE", msgPath(del, ""), nil)
	search := func(cl *servertest.Client, q string, extra string) []any {
		t.Helper()
		return cl.Must(200, "GET", "/api/v1/search?q="+url.QueryEscape(q)+extra, nil).JSON()["results"].([]any)
	}
	res := search(c.stu2, "cafe", "")
	if len(res) != 1 {
		t.Fatalf("cafe: %v", res)
	}
	snip := res[0].(map[string]any)["snippet"].([]any)
	matched := ""
	for _, p := range snip {
		if pm := p.(map[string]any); pm["match"] == true {
			matched += pm["text"].(string)
		}
	}
	if matched != "Café" || res[0].(map[string]any)["conversation_name"] != "Group 1" {
		t.Errorf("snippet: %v", res[0])
	}
	// Prefix on the last word, newest first, only readable conversations, no deleted messages.
	if res := search(c.stu2, "lect", ""); len(res) != 2 || !strings.Contains(res[0].(map[string]any)["message"].(map[string]any)["body"].(string), "room 4") {
		t.Errorf("lect for stu2 (member of g1 only): %v", res)
	}
	if res := search(c.stu, "lecture", ""); len(res) != 3 {
		t.Errorf("lecture for stu (g1 and g2): %d", len(res))
	}
	if res := search(c.admin, "lecture", ""); len(res) != 3 {
		t.Errorf("lecture for the admin: %d", len(res))
	}
	if res := search(c.stu, "lecture", fmt.Sprintf("&conversation_id=%d", c.g2)); len(res) != 1 {
		t.Errorf("conversation filter: %d", len(res))
	}
	if res := search(c.admin, "lecture", fmt.Sprintf("&sender_id=%d", c.own2ID)); len(res) != 1 {
		t.Errorf("sender filter: %d", len(res))
	}
	if res := search(c.admin, "lecture", "&after=2000-01-01T00:00:00Z&before=2001-01-01T00:00:00Z"); len(res) != 0 {
		t.Errorf("date filter: %d", len(res))
	}
	// Operators and quotes are text; unicode works; nothing errors.
	for q, want := range map[string]int{`"NOT (x OR y)"`: 1, `NOT`: 2, `"NOT"`: 1, `x OR y`: 1, `"lecture moves"`: 1, `"moves lecture"`: 0,
		`東京`: 1, `naive`: 1, `AND OR NOT NEAR`: 0, `lecture*`: 2, `^lecture`: 2, `body:lecture`: 0, `-lecture`: 2, `"unterminated`: 0} {
		if res := search(c.stu2, q, ""); len(res) != want {
			t.Errorf("search %q: %d results, want %d", q, len(res), want)
		}
	}
	for _, bad := range []string{"", "()", `""`, strings.Repeat("a", 201)} {
		if r := c.stu2.Do("GET", "/api/v1/search?q="+url.QueryEscape(bad), nil); r.Status != 400 {
			t.Errorf("search %q: %d", bad, r.Status)
		}
	}
	if r := c.stu2.Do("GET", fmt.Sprintf("/api/v1/search?q=lecture&conversation_id=%d", c.g2), nil); r.Status != 404 {
		t.Errorf("filtering on a conversation one cannot read: %d", r.Status)
	}
	if r := c.outsider.Do("GET", "/api/v1/search?q=lecture", nil); r.Status != 200 || len(r.JSON()["results"].([]any)) != 0 {
		t.Errorf("outsider search: %d %s", r.Status, r.Body)
	}
	// Edits re-index; paging.
	first := idOf(c.stu.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "zebra"}))
	c.stu.Must(200, "PATCH", msgPath(first, ""), map[string]any{"body": "giraffe"})
	if len(search(c.stu, "zebra", "")) != 0 || len(search(c.stu, "giraffe", "")) != 1 {
		t.Error("search after an edit")
	}
	p := c.stu.Must(200, "GET", "/api/v1/search?q=lecture&limit=2", nil).JSON()
	if len(p["results"].([]any)) != 2 || p["has_more"] != true {
		t.Errorf("page 1: %v", p)
	}
	p = c.stu.Must(200, "GET", "/api/v1/search?q=lecture&limit=2&offset=2", nil).JSON()
	if len(p["results"].([]any)) != 1 || p["has_more"] != false {
		t.Errorf("page 2: %v", p)
	}
}

// Transcripts (CSV and the printable page) show edits, replies and reactions.
func TestTranscriptShowsEverydayFeatures(t *testing.T) {
	c := newModClass(t)
	q := idOf(c.stu.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "first try"}))
	c.stu.Must(200, "PATCH", msgPath(q, ""), map[string]any{"body": "second try"})
	c.stu2.Must(200, "PUT", msgPath(q, "/reactions/"+url.PathEscape("🎉")), nil)
	c.own1.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "well done", "reply_to": q})
	csv := string(c.admin.Must(200, "GET", convPath(c.g1)+"/transcript?format=csv", nil).Body)
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[0], "deleted,edited_at,reply_to_seq,attachments,reactions") ||
		!strings.Contains(lines[1], "second try,false,20") || !strings.HasSuffix(lines[1], ",,,🎉 1") || !strings.HasSuffix(lines[2], "false,,1,,") {
		t.Errorf("csv:\n%s", csv)
	}
	page := string(c.admin.Must(200, "GET", convPath(c.g1)+"/transcript?format=html", nil).Body)
	for _, want := range []string{"(edited ", "🎉 1", `↩ reply to <a href="#m1">`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
}
