package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"teamchat/server/servertest"
)

// Class sessions, keyword flags and reports (issue 6).

func joinCode(t *testing.T, admin *servertest.Client) string {
	t.Helper()
	return admin.Must(200, "GET", "/api/v1/settings", nil).JSON()["join_code"].(string)
}

// joinAsGuest joins with the class code; it returns the client and its refresh token.
func joinAsGuest(t *testing.T, env *servertest.Env, code, name string) (*servertest.Client, string) {
	t.Helper()
	g := env.Anon()
	pair := g.Must(201, "POST", "/api/v1/auth/guest", map[string]any{"display_name": name, "join_code": code}).JSON()
	g.Token = pair["access_token"].(string)
	return g, pair["refresh_token"].(string)
}

// activeClassSession returns the id of the active class session, starting one if none is.
func activeClassSession(t *testing.T, admin *servertest.Client) int64 {
	t.Helper()
	for _, s := range admin.Must(200, "GET", "/api/v1/sessions", nil).JSON()["sessions"].([]any) {
		if m := s.(map[string]any); m["active"] == true {
			return int64(m["id"].(float64))
		}
	}
	return idOf(admin.Must(201, "POST", "/api/v1/sessions", map[string]any{"name": "Lecture"}))
}

// endActiveClassSession ends the active class session, if any.
func endActiveClassSession(t *testing.T, admin *servertest.Client) {
	t.Helper()
	for _, s := range admin.Must(200, "GET", "/api/v1/sessions", nil).JSON()["sessions"].([]any) {
		if m := s.(map[string]any); m["ended_at"] == nil {
			admin.Must(200, "POST", fmt.Sprintf("/api/v1/sessions/%d/end", int64(m["id"].(float64))), nil)
		}
	}
}

// reportFixture makes a flag (a report by reporter of msg) and returns its id.
func reportFixture(t *testing.T, reporter *servertest.Client, msg int64) int64 {
	t.Helper()
	return idOf(reporter.Must(201, "POST", fmt.Sprintf("/api/v1/messages/%d/report", msg), map[string]any{"reason": "rude"}))
}

func auditActions(t *testing.T, admin *servertest.Client, action string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range admin.Must(200, "GET", "/api/v1/audit?limit=200&action="+action, nil).JSON()["entries"].([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

func TestClassSessionsPerRole(t *testing.T) {
	c := newModClass(t)
	code := joinCode(t, c.admin)
	guest, _ := joinAsGuest(t, c.env, code, "Visitor")
	m := idOf(c.stu.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "hello"}))
	flag := reportFixture(t, c.stu2, m)

	if info := c.env.Anon().Must(200, "GET", "/api/v1/info", nil).JSON(); info["session"] != nil {
		t.Fatalf("info before any session: %v", info)
	}
	sws := c.stu.DialWS()
	s := c.admin.Must(201, "POST", "/api/v1/sessions", map[string]any{"name": "  Lecture   5 "}).JSON()
	if s["name"] != "Lecture 5" || s["active"] != true || s["ended_at"] != nil || s["ends_at"] != nil || s["started_at"] == nil {
		t.Fatalf("started session: %v", s)
	}
	sid := int64(s["id"].(float64))
	if f := waitFrame(t, sws, frameOf("session_started")); f["session"].(map[string]any)["id"] != s["id"] {
		t.Fatalf("session_started: %v", f)
	}
	info := c.env.Anon().Must(200, "GET", "/api/v1/info", nil).JSON()
	if is, _ := info["session"].(map[string]any); is == nil || is["id"] != s["id"] || is["name"] != "Lecture 5" || len(is) != 4 {
		t.Fatalf("info during the session: %v", info)
	}

	// Students, owners and guests cannot run sessions or the queue; they can report.
	for _, who := range []*servertest.Client{c.stu, c.own1, guest} {
		for _, r := range []servertest.Resp{
			who.Do("POST", "/api/v1/sessions", map[string]any{"name": "Mine"}),
			who.Do("GET", "/api/v1/sessions", nil),
			who.Do("POST", fmt.Sprintf("/api/v1/sessions/%d/end", sid), nil),
			who.Do("GET", "/api/v1/flags", nil),
			who.Do("POST", fmt.Sprintf("/api/v1/flags/%d/resolve", flag), map[string]any{}),
		} {
			if r.Status != 403 || r.ErrCode() != "forbidden" {
				t.Errorf("non-admin: %d %s", r.Status, r.Body)
			}
		}
	}
	reportFixture(t, c.stu, m)
	// The general conversation (1) is where guests are.
	gm := idOf(c.admin.Must(201, "POST", msgsPath(1), map[string]any{"body": "welcome"}))
	reportFixture(t, guest, gm)

	// Only one active session; invalid requests answer 400.
	if r := c.admin.Do("POST", "/api/v1/sessions", map[string]any{"name": "Another"}); r.Status != 409 || r.ErrCode() != "conflict" {
		t.Fatalf("second session: %d %s", r.Status, r.Body)
	}
	for _, b := range []map[string]any{
		{"name": ""},
		{"name": strings.Repeat("x", 65)},
		{"name": "Past", "ends_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)},
		{"name": "Bad time", "ends_at": "tomorrow"},
		{"name": "Unknown", "room": 4},
	} {
		if r := c.admin.Do("POST", "/api/v1/sessions", b); r.Status != 400 {
			t.Errorf("start %v: %d %s", b, r.Status, r.Body)
		}
	}
	c.admin.Must(404, "POST", "/api/v1/sessions/999999/end", nil)

	ended := c.admin.Must(200, "POST", fmt.Sprintf("/api/v1/sessions/%d/end", sid), nil).JSON()
	if ended["active"] != false || ended["ended_at"] == nil || ended["id"] != s["id"] {
		t.Fatalf("ended session: %v", ended)
	}
	if f := waitFrame(t, sws, frameOf("session_ended")); f["session"].(map[string]any)["ended_at"] == nil {
		t.Fatalf("session_ended: %v", f)
	}
	if r := c.admin.Do("POST", fmt.Sprintf("/api/v1/sessions/%d/end", sid), nil); r.Status != 409 {
		t.Fatalf("ending twice: %d %s", r.Status, r.Body)
	}
	if info := c.env.Anon().Must(200, "GET", "/api/v1/info", nil).JSON(); info["session"] != nil {
		t.Fatalf("info after the session: %v", info)
	}
	ends := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	s2 := c.admin.Must(201, "POST", "/api/v1/sessions", map[string]any{"name": "Lab", "ends_at": ends.Format(time.RFC3339Nano)}).JSON()
	if s2["ends_at"] != ends.Format("2006-01-02T15:04:05.000Z07:00") {
		t.Fatalf("ends_at %v, want %v", s2["ends_at"], ends)
	}
	list := c.admin.Must(200, "GET", "/api/v1/sessions", nil).JSON()["sessions"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["id"] != s2["id"] || list[1].(map[string]any)["id"] != s["id"] {
		t.Fatalf("sessions newest first: %v", list)
	}

	starts := auditActions(t, c.admin, "session.start")
	endsA := auditActions(t, c.admin, "session.end")
	if len(starts) != 2 || len(endsA) != 1 {
		t.Fatalf("audit: %d starts, %d ends", len(starts), len(endsA))
	}
	if e := endsA[0]; e["target_type"] != "session" || e["target_id"] != s["id"] || e["actor"].(map[string]any)["id"] != float64(c.adminID) ||
		e["details"].(map[string]any)["name"] != "Lecture 5" || e["details"].(map[string]any)["automatic"] != false {
		t.Fatalf("session.end entry: %v", e)
	}
	if d := starts[0]["details"].(map[string]any); d["name"] != "Lab" || d["ends_at"] != s2["ends_at"] || starts[0]["target_id"] != s2["id"] {
		t.Fatalf("session.start entry: %v", starts[0])
	}
}

func TestSessionGuestsAreCutOffAtTheEnd(t *testing.T) {
	env := servertest.Start(t)
	admin := env.AddUser("prof", "admin")
	code := joinCode(t, admin)
	before, _ := joinAsGuest(t, env, code, "Early Bird")
	sid := idOf(admin.Must(201, "POST", "/api/v1/sessions", map[string]any{"name": "Lecture 1"}))
	during, refresh := joinAsGuest(t, env, code, "Session Guest")
	cookie := env.Anon() // a guest in the browser, with the cookie
	cookie.CSRF = cookie.Must(201, "POST", "/api/v1/auth/guest", map[string]any{"display_name": "Cookie Guest", "join_code": code, "session": true}).JSON()["csrf_token"].(string)
	during.Must(201, "POST", msgsPath(1), map[string]any{"body": "words of the session guest"})
	cookie.Must(201, "POST", msgsPath(1), map[string]any{"body": "words of the cookie guest"})
	before.Must(201, "POST", msgsPath(1), map[string]any{"body": "words of the early bird"})
	dws, cws, bws := during.DialWS(), cookie.DialWS(), before.DialWS()

	admin.Must(200, "POST", fmt.Sprintf("/api/v1/sessions/%d/end", sid), nil)
	// At once: REST and refresh answer 401.
	during.Must(401, "GET", "/api/v1/me", nil)
	cookie.Must(401, "GET", "/api/v1/me", nil)
	env.Anon().Must(401, "POST", "/api/v1/auth/refresh", map[string]any{"refresh_token": refresh})
	if r := during.Do("POST", msgsPath(1), map[string]any{"body": "still here?"}); r.Status != 401 {
		t.Fatalf("post after the end: %d %s", r.Status, r.Body)
	}
	for _, ws := range []*servertest.WS{dws, cws} {
		if code := ws.WaitClose(); code != 4401 {
			t.Fatalf("guest socket closed with %d, want 4401", code)
		}
	}
	// A guest who joined before the session is not affected.
	before.Must(200, "GET", "/api/v1/me", nil)
	if f := sendResult(t, bws, 1, "after-end", "still in class"); f.Type() != "ack" {
		t.Fatalf("early guest's send: %v", f)
	}
	// A guest who joins after the session is not affected by the next one's end either.
	after, _ := joinAsGuest(t, env, code, "Late Comer")
	sid2 := idOf(admin.Must(201, "POST", "/api/v1/sessions", map[string]any{"name": "Lecture 2"}))
	admin.Must(200, "POST", fmt.Sprintf("/api/v1/sessions/%d/end", sid2), nil)
	after.Must(200, "GET", "/api/v1/me", nil)

	// The words stay in the record under the guests' names; the accounts are disabled.
	page := admin.Must(200, "GET", msgsPath(1), nil).JSON()["messages"].([]any)
	found := map[string]string{}
	for _, m := range page {
		mm := m.(map[string]any)
		found[mm["body"].(string)] = mm["sender"].(map[string]any)["display_name"].(string)
	}
	if found["words of the session guest"] != "Session Guest" || found["words of the cookie guest"] != "Cookie Guest" {
		t.Fatalf("guest messages: %v", found)
	}
	users := admin.Must(200, "GET", "/api/v1/users", nil).JSON()["users"].([]any)
	disabled := map[string]bool{}
	for _, u := range users {
		um := u.(map[string]any)
		disabled[um["display_name"].(string)] = um["disabled"].(bool)
	}
	if !disabled["Session Guest"] || !disabled["Cookie Guest"] || disabled["Early Bird"] || disabled["Late Comer"] {
		t.Fatalf("disabled: %v", disabled)
	}
	if e := auditActions(t, admin, "session.end"); len(e) != 2 || e[1]["details"].(map[string]any)["guests_disabled"] != float64(2) {
		t.Fatalf("session.end entries: %v", e)
	}
}

func TestSessionEndsByItselfAtEndsAt(t *testing.T) {
	env := servertest.Start(t)
	admin := env.AddUser("prof", "admin")
	code := joinCode(t, admin)
	stu := env.AddUser("stu", "user")
	ends := time.Now().Add(2 * time.Second)
	s := admin.Must(201, "POST", "/api/v1/sessions", map[string]any{"name": "Quiz", "ends_at": ends.UTC().Format(time.RFC3339Nano)}).JSON()
	g, refresh := joinAsGuest(t, env, code, "Quiz Guest")
	g.Must(201, "POST", msgsPath(1), map[string]any{"body": "my answer"})
	gws := g.DialWS()
	sws := stu.DialWS()
	if info := env.Anon().Must(200, "GET", "/api/v1/info", nil).JSON(); info["session"].(map[string]any)["ends_at"] != s["ends_at"] {
		t.Fatalf("info: %v", info)
	}
	// Wait on the condition; the check runs every few seconds, and here on demand.
	servertest.Eventually(t, "the session to end by itself", func() bool {
		env.Srv.Chat().EndDueClassSessions(t.Context())
		l := admin.Must(200, "GET", "/api/v1/sessions", nil).JSON()["sessions"].([]any)
		return l[0].(map[string]any)["ended_at"] != nil
	})
	if time.Now().Before(ends) {
		t.Fatalf("ended before ends_at")
	}
	l := admin.Must(200, "GET", "/api/v1/sessions", nil).JSON()["sessions"].([]any)[0].(map[string]any)
	if l["ended_at"] != s["ends_at"] || l["active"] != false {
		t.Fatalf("ended session: %v (ends_at %v)", l, s["ends_at"])
	}
	if code := gws.WaitClose(); code != 4401 {
		t.Fatalf("guest socket closed with %d", code)
	}
	g.Must(401, "GET", "/api/v1/me", nil)
	env.Anon().Must(401, "POST", "/api/v1/auth/refresh", map[string]any{"refresh_token": refresh})
	if f := waitFrame(t, sws, frameOf("session_ended")); f["session"].(map[string]any)["id"] != s["id"] {
		t.Fatalf("session_ended: %v", f)
	}
	if info := env.Anon().Must(200, "GET", "/api/v1/info", nil).JSON(); info["session"] != nil {
		t.Fatalf("info after the end: %v", info)
	}
	e := auditActions(t, admin, "session.end")
	if len(e) != 1 || e[0]["actor"] != nil || e[0]["details"].(map[string]any)["automatic"] != true {
		t.Fatalf("automatic session.end: %v", e)
	}
	if !strings.Contains(string(admin.Must(200, "GET", msgsPath(1), nil).Body), "my answer") {
		t.Fatalf("the guest's message is gone")
	}
	// A new session can start at once.
	admin.Must(201, "POST", "/api/v1/sessions", map[string]any{"name": "Next"})
}

func TestKeywordFlags(t *testing.T) {
	c := newModClass(t)
	set := c.admin.Must(200, "GET", "/api/v1/settings", nil).JSON()
	if w, ok := set["flag_words"].([]any); !ok || len(w) != 0 {
		t.Fatalf("default flag_words: %v", set["flag_words"])
	}
	set = c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"flag_words": []string{" Class ", "shut  UP", "class", "Ärger"}}).JSON()
	if fmt.Sprint(set["flag_words"]) != "[class shut up ärger]" {
		t.Fatalf("stored flag_words: %v", set["flag_words"])
	}
	for _, bad := range []any{
		[]string{""},
		[]string{strings.Repeat("a", 65)},
		make([]string, 201),
		"class",
		[]string{"ok", "tab\tinside"},
	} {
		if r := c.admin.Do("PATCH", "/api/v1/settings", map[string]any{"flag_words": bad}); r.Status != 400 {
			t.Errorf("flag_words %v: %d %s", bad, r.Status, r.Body)
		}
	}
	if r := c.stu.Do("PATCH", "/api/v1/settings", map[string]any{"flag_words": []string{"x"}}); r.Status != 403 {
		t.Fatalf("student setting flag words: %d", r.Status)
	}
	if e := auditActions(t, c.admin, "settings.update"); len(e) != 1 || e[0]["details"].(map[string]any)["flag_words"] == nil {
		t.Fatalf("settings.update: %v", e)
	}

	aws := c.admin.DialWS()
	sws := c.stu.DialWS()
	post := func(who *servertest.Client, body string) int64 {
		return idOf(who.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": body}))
	}
	m1 := post(c.stu2, "first")
	m2 := post(c.stu2, "second")
	clean := post(c.stu, "classic rock, classes and subclass are fine; so is shutup")
	hit := post(c.stu, "This CLASS is boring")
	m4 := post(c.stu2, "fourth")
	// Over WebSocket too, and a non-ASCII word.
	if f := sendResult(t, sws, c.g1, "kw-1", "Kein ärger, bitte."); f.Type() != "ack" {
		t.Fatalf("WS send: %v", f)
	}
	f := waitFrame(t, aws, frameOf("message_flagged"))["flag"].(map[string]any)
	if f["kind"] != "keyword" || f["word"] != "class" || f["reason"] != nil || f["reporter"] != nil ||
		f["message"].(map[string]any)["id"] != float64(hit) || f["resolved_at"] != nil || f["resolved_by"] != nil {
		t.Fatalf("message_flagged: %v", f)
	}
	if conv := f["conversation"].(map[string]any); conv["id"] != float64(c.g1) || conv["name"] != "Group 1" {
		t.Fatalf("flag conversation: %v", conv)
	}
	var ctxIDs []int64
	for _, m := range f["context"].([]any) {
		ctxIDs = append(ctxIDs, int64(m.(map[string]any)["id"].(float64)))
	}
	// Two before, oldest first (the frame is built when the flag is recorded:
	// later messages may not be committed yet; the queue below has them).
	if len(ctxIDs) < 2 || ctxIDs[0] != m2 || ctxIDs[1] != clean {
		t.Fatalf("context %v, want [%d %d …]", ctxIDs, m2, clean)
	}
	f2 := waitFrame(t, aws, frameOf("message_flagged"))["flag"].(map[string]any)
	if f2["word"] != "ärger" {
		t.Fatalf("second flag: %v", f2)
	}
	// A resend of a stored message is not a new message: no new flag.
	flags := c.admin.Must(200, "GET", "/api/v1/flags", nil).JSON()["flags"].([]any)
	if len(flags) != 2 || flags[0].(map[string]any)["id"] != f2["id"] || flags[1].(map[string]any)["id"] != f["id"] {
		t.Fatalf("open flags: %v", flags)
	}
	ctx := flags[1].(map[string]any)["context"].([]any)
	if len(ctx) != 4 || int64(ctx[0].(map[string]any)["id"].(float64)) != m2 || int64(ctx[2].(map[string]any)["id"].(float64)) != m4 || m1 == 0 {
		t.Fatalf("context in the list: %v", ctx)
	}
	// Admins' own messages are not checked; a message is never blocked.
	c.admin.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "class dismissed"})
	last := post(c.stu, "class again")
	if f3 := waitFrame(t, aws, frameOf("message_flagged"))["flag"].(map[string]any); f3["message"].(map[string]any)["id"] != float64(last) {
		t.Fatalf("third flag: %v", f3)
	}
	// Students never see the queue's frames: their socket got only chat frames.
	sws.Send(map[string]any{"type": "unsubscribe", "conversation_id": 999999})
	waitFrame(t, sws, func(f servertest.Frame) bool {
		if f.Type() == "message_flagged" {
			t.Fatalf("a student got %v", f)
		}
		return f.Type() == "unsubscribed"
	})
}

func TestReportAndResolve(t *testing.T) {
	c := newModClass(t)
	aws := c.admin.DialWS()
	var ids []int64
	for i := range 6 {
		ids = append(ids, idOf(c.stu2.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": fmt.Sprintf("m%d", i)})))
	}
	target := ids[2]
	rp := fmt.Sprintf("/api/v1/messages/%d/report", target)
	for _, b := range []map[string]any{{"reason": ""}, {"reason": "   "}, {"reason": strings.Repeat("r", 501)}, {}, {"reason": "x", "extra": 1}} {
		if r := c.stu.Do("POST", rp, b); r.Status != 400 {
			t.Errorf("report %v: %d %s", b, r.Status, r.Body)
		}
	}
	c.outsider.Must(404, "POST", rp, map[string]any{"reason": "I cannot even see it"})
	c.stu.Must(404, "POST", "/api/v1/messages/999999/report", map[string]any{"reason": "nothing"})

	f := c.stu.Must(201, "POST", rp, map[string]any{"reason": "  This is mean to me  "}).JSON()
	if f["kind"] != "report" || f["reason"] != "This is mean to me" || f["word"] != nil ||
		f["reporter"].(map[string]any)["id"] != float64(c.stuID) || f["message"].(map[string]any)["id"] != float64(target) {
		t.Fatalf("report: %v", f)
	}
	var ctx []int64
	for _, m := range f["context"].([]any) {
		ctx = append(ctx, int64(m.(map[string]any)["id"].(float64)))
	}
	if fmt.Sprint(ctx) != fmt.Sprint([]int64{ids[0], ids[1], ids[3], ids[4]}) {
		t.Fatalf("context %v", ctx)
	}
	if fr := waitFrame(t, aws, frameOf("message_flagged")); fr["flag"].(map[string]any)["id"] != f["id"] {
		t.Fatalf("message_flagged: %v", fr)
	}
	if r := c.stu.Do("POST", rp, map[string]any{"reason": "again"}); r.Status != 409 || r.ErrCode() != "conflict" {
		t.Fatalf("second report: %d %s", r.Status, r.Body)
	}
	// Another reader may report it too, and the first message has no context before it.
	f2 := c.own1.Must(201, "POST", rp, map[string]any{"reason": "agreed"}).JSON()
	f3 := c.admin.Must(201, "POST", fmt.Sprintf("/api/v1/messages/%d/report", ids[0]), map[string]any{"reason": "first"}).JSON()
	if len(f3["context"].([]any)) != 2 {
		t.Fatalf("context of the first message: %v", f3["context"])
	}
	// A deleted message cannot be reported.
	c.stu2.Must(204, "DELETE", fmt.Sprintf("/api/v1/messages/%d", ids[5]), nil)
	c.stu.Must(400, "POST", fmt.Sprintf("/api/v1/messages/%d/report", ids[5]), map[string]any{"reason": "gone"})

	open := c.admin.Must(200, "GET", "/api/v1/flags?status=open", nil).JSON()["flags"].([]any)
	if len(open) != 3 || open[0].(map[string]any)["id"] != f3["id"] || open[2].(map[string]any)["id"] != f["id"] {
		t.Fatalf("open flags: %v", open)
	}
	c.admin.Must(400, "GET", "/api/v1/flags?status=closed", nil)
	c.admin.Must(404, "POST", "/api/v1/flags/999999/resolve", map[string]any{})

	res := c.admin.Must(200, "POST", fmt.Sprintf("/api/v1/flags/%d/resolve", int64(f["id"].(float64))), map[string]any{"note": "talked to them"}).JSON()
	if res["resolved_at"] == nil || res["resolved_by"].(map[string]any)["id"] != float64(c.adminID) || res["note"] != "talked to them" {
		t.Fatalf("resolved: %v", res)
	}
	if r := c.admin.Do("POST", fmt.Sprintf("/api/v1/flags/%d/resolve", int64(f["id"].(float64))), nil); r.Status != 409 {
		t.Fatalf("resolving twice: %d %s", r.Status, r.Body)
	}
	// No body at all is fine.
	c.admin.Must(200, "POST", fmt.Sprintf("/api/v1/flags/%d/resolve", int64(f2["id"].(float64))), nil)
	open = c.admin.Must(200, "GET", "/api/v1/flags", nil).JSON()["flags"].([]any)
	resolved := c.admin.Must(200, "GET", "/api/v1/flags?status=resolved", nil).JSON()["flags"].([]any)
	if len(open) != 1 || len(resolved) != 2 || resolved[0].(map[string]any)["id"] != f2["id"] {
		t.Fatalf("open %v, resolved %v", open, resolved)
	}
	e := auditActions(t, c.admin, "flag.resolve")
	if len(e) != 2 || e[1]["target_type"] != "flag" || e[1]["target_id"] != f["id"] ||
		e[1]["details"].(map[string]any)["note"] != "talked to them" || e[1]["details"].(map[string]any)["message_id"] != float64(target) {
		t.Fatalf("flag.resolve entries: %v", e)
	}
}
