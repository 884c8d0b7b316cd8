package api_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"teamchat/server/servertest"
)

// Moderation (issue 6): mutes, slow mode, pins, pause all, the DM policy,
// announcements and the audit log, on REST and WebSocket, per role.

// modClass is a class with an admin, two owners of one group each, and students.
type modClass struct {
	env                      *servertest.Env
	admin, own1, own2        *servertest.Client
	stu, stu2, outsider      *servertest.Client
	adminID, own1ID, own2ID  int64
	stuID, stu2ID, outsideID int64
	g1, g2                   int64 // g1: own1 (owner), own2, stu, stu2; g2: own2 (owner), stu
}

func newModClass(t *testing.T) *modClass {
	t.Helper()
	env := servertest.Start(t)
	c := &modClass{env: env}
	c.admin = env.AddUser("prof", "admin")
	c.own1 = env.AddUser("owner1", "user")
	c.own2 = env.AddUser("owner2", "user")
	c.stu = env.AddUser("stu", "user")
	c.stu2 = env.AddUser("stu2", "user")
	c.outsider = env.AddUser("outsider", "user")
	c.adminID, c.own1ID, c.own2ID = c.admin.ID(), c.own1.ID(), c.own2.ID()
	c.stuID, c.stu2ID, c.outsideID = c.stu.ID(), c.stu2.ID(), c.outsider.ID()
	c.g1 = idOf(c.own1.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Group 1", "member_ids": []int64{c.own2ID, c.stuID, c.stu2ID}}))
	c.g2 = idOf(c.own2.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Group 2", "member_ids": []int64{c.stuID}}))
	return c
}

func idOf(r servertest.Resp) int64 { return int64(r.JSON()["id"].(float64)) }

func errMsg(r servertest.Resp) string {
	e, _ := r.JSON()["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

func msgsPath(conv int64) string { return fmt.Sprintf("/api/v1/conversations/%d/messages", conv) }

func mutesPath(conv int64) string { return fmt.Sprintf("/api/v1/conversations/%d/mutes", conv) }

func convPath(conv int64) string { return fmt.Sprintf("/api/v1/conversations/%d", conv) }

// sendResult sends a message frame and returns its answer (ack or error),
// skipping every other frame.
func sendResult(t *testing.T, ws *servertest.WS, conv int64, clientID, body string) servertest.Frame {
	t.Helper()
	ws.Send(send(conv, clientID, body))
	return waitFrame(t, ws, func(f servertest.Frame) bool {
		return (f.Type() == "ack" || f.Type() == "error") && f["client_id"] == clientID
	})
}

// waitFrame returns the first frame matching ok, skipping the others (each
// frame is waited for with servertest's deadline).
func waitFrame(t *testing.T, ws *servertest.WS, ok func(servertest.Frame) bool) servertest.Frame {
	t.Helper()
	for i := 0; i < 10000; i++ {
		if f := ws.Next(); ok(f) {
			return f
		}
	}
	t.Fatal("no matching frame among 10000")
	return nil
}

func frameOf(typ string) func(servertest.Frame) bool {
	return func(f servertest.Frame) bool { return f.Type() == typ }
}

func TestModerationPerRole(t *testing.T) {
	c := newModClass(t)
	m1 := idOf(c.stu2.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "in g1"}))
	m2 := idOf(c.stu.Must(201, "POST", msgsPath(c.g2), map[string]any{"body": "in g2"}))
	pin := func(m int64) string { return fmt.Sprintf("/api/v1/messages/%d/pin", m) }
	mute := func(uid int64) map[string]any { return map[string]any{"user_id": uid, "minutes": 10} }

	// A student cannot moderate: not the conversation it is a member of, not the class.
	for _, r := range []servertest.Resp{
		c.stu.Do("POST", mutesPath(c.g1), mute(c.stu2ID)),
		c.stu.Do("GET", mutesPath(c.g1), nil),
		c.stu.Do("DELETE", fmt.Sprintf("%s/%d", mutesPath(c.g1), c.stu2ID), nil),
		c.stu.Do("POST", pin(m1), nil),
		c.stu.Do("DELETE", pin(m1), nil),
		c.stu.Do("PATCH", convPath(c.g1), map[string]any{"slow_mode_seconds": 30}),
		c.stu.Do("PATCH", "/api/v1/settings", map[string]any{"paused": true}),
		c.stu.Do("PATCH", "/api/v1/settings", map[string]any{"dm_policy": "none"}),
		c.stu.Do("POST", "/api/v1/announcements", map[string]any{"body": "fake"}),
		c.stu.Do("GET", "/api/v1/audit", nil),
	} {
		if r.Status != 403 || r.ErrCode() != "forbidden" {
			t.Errorf("student moderating: %d %s", r.Status, r.Body)
		}
	}
	// An outsider does not even learn that the conversation exists.
	for _, r := range []servertest.Resp{
		c.outsider.Do("POST", mutesPath(c.g1), mute(c.stu2ID)),
		c.outsider.Do("POST", pin(m1), nil),
		c.outsider.Do("GET", fmt.Sprintf("/api/v1/conversations/%d/pins", c.g1), nil),
	} {
		if r.Status != 404 {
			t.Errorf("outsider: %d %s", r.Status, r.Body)
		}
	}
	// An owner moderates only its own conversation: own2 is a plain member of g1.
	if r := c.own2.Do("POST", mutesPath(c.g1), mute(c.stu2ID)); r.Status != 403 {
		t.Errorf("owner of g2 muting in g1: %d %s", r.Status, r.Body)
	}
	if r := c.own2.Do("POST", pin(m1), nil); r.Status != 403 {
		t.Errorf("owner of g2 pinning in g1: %d %s", r.Status, r.Body)
	}
	if r := c.own1.Do("POST", mutesPath(c.g2), mute(c.stuID)); r.Status != 404 {
		t.Errorf("owner of g1 muting in g2 (not a member): %d %s", r.Status, r.Body)
	}
	c.own1.Must(201, "POST", mutesPath(c.g1), mute(c.stu2ID))
	c.own1.Must(204, "POST", pin(m1), nil)
	c.own1.Must(200, "PATCH", convPath(c.g1), map[string]any{"slow_mode_seconds": 5})
	c.own1.Must(204, "DELETE", fmt.Sprintf("%s/%d", mutesPath(c.g1), c.stu2ID), nil)
	c.own1.Must(204, "DELETE", pin(m1), nil)
	// Admins moderate everywhere, member or not.
	c.admin.Must(201, "POST", mutesPath(c.g2), mute(c.stuID))
	c.admin.Must(204, "POST", pin(m2), nil)
	c.admin.Must(200, "PATCH", convPath(c.g2), map[string]any{"slow_mode_seconds": 3600})
	if got := c.admin.Must(200, "GET", mutesPath(c.g2), nil).JSON()["mutes"].([]any); len(got) != 1 {
		t.Errorf("mutes of g2: %v", got)
	}

	// Invalid requests answer 400.
	for _, tc := range []struct {
		who  *servertest.Client
		m, p string
		body any
	}{
		{c.own1, "POST", mutesPath(c.g1), mute(c.adminID)},                                  // admins cannot be muted (admin is not a member either)
		{c.own1, "POST", mutesPath(c.g1), mute(c.own1ID)},                                   // owners cannot be muted
		{c.own1, "POST", mutesPath(c.g1), mute(c.outsideID)},                                // not a member
		{c.own1, "POST", mutesPath(c.g1), map[string]any{"user_id": c.stuID, "minutes": 0}}, // 1..10080
		{c.own1, "POST", mutesPath(c.g1), map[string]any{"user_id": c.stuID, "minutes": 10081}},
		{c.own1, "POST", mutesPath(c.g1), map[string]any{"user_id": c.stuID}},
		{c.own1, "PATCH", convPath(c.g1), map[string]any{"slow_mode_seconds": 3601}},
		{c.own1, "PATCH", convPath(c.g1), map[string]any{"slow_mode_seconds": -1}},
		{c.admin, "PATCH", "/api/v1/settings", map[string]any{"dm_policy": "teachers"}},
		{c.admin, "PATCH", "/api/v1/settings", map[string]any{"paused": "yes"}},
		{c.admin, "POST", "/api/v1/announcements", map[string]any{"body": "   "}},
	} {
		if r := tc.who.Do(tc.m, tc.p, tc.body); r.Status != 400 || r.ErrCode() != "bad_request" {
			t.Errorf("%s %s %v: %d %s", tc.m, tc.p, tc.body, r.Status, r.Body)
		}
	}
	// An admin who is a member is still not mutable.
	c.own1.Must(201, "POST", fmt.Sprintf("/api/v1/conversations/%d/members", c.g1), map[string]any{"user_id": c.adminID})
	if r := c.own1.Do("POST", mutesPath(c.g1), mute(c.adminID)); r.Status != 400 || !strings.Contains(errMsg(r), "admins") {
		t.Errorf("muting an admin member: %d %s", r.Status, r.Body)
	}
	// Deleted messages cannot be pinned.
	c.stu2.Must(204, "DELETE", fmt.Sprintf("/api/v1/messages/%d", m1), nil)
	if r := c.own1.Do("POST", pin(m1), nil); r.Status != 400 {
		t.Errorf("pinning a deleted message: %d %s", r.Status, r.Body)
	}
}

func TestMuteRefusesRESTAndWebSocketUntilUnmuted(t *testing.T) {
	c := newModClass(t)
	sws := c.stu.DialWS()
	sws.Send(map[string]any{"type": "subscribe", "conversation_id": c.g1})
	sws.Expect("subscribed")
	watcher := c.stu2.DialWS() // a subscriber who is not muted
	watcher.Send(map[string]any{"type": "subscribe", "conversation_id": c.g1})
	watcher.Expect("subscribed")
	other := c.stu.DialWS() // the muted user's second connection, not subscribed

	res := c.own1.Must(201, "POST", mutesPath(c.g1), map[string]any{"user_id": c.stuID, "minutes": 30}).JSON()
	until, _ := res["until"].(string)
	if res["user_id"] != float64(c.stuID) || until == "" {
		t.Fatalf("mute answer: %v", res)
	}
	ut, err := time.Parse(time.RFC3339, until)
	if err != nil || ut.Before(time.Now().Add(29*time.Minute)) || ut.After(time.Now().Add(31*time.Minute)) {
		t.Fatalf("until %q (%v)", until, err)
	}
	for _, ws := range []*servertest.WS{sws, watcher, other} {
		f := waitFrame(t, ws, frameOf("member_muted"))
		if f.Int("conversation_id") != c.g1 || f.Int("user_id") != c.stuID || f["until"] != until {
			t.Fatalf("member_muted: %v", f)
		}
	}
	want := "you are muted in this conversation until " + until
	r := c.stu.Do("POST", msgsPath(c.g1), map[string]any{"body": "let me talk"})
	if r.Status != 403 || r.ErrCode() != "forbidden" || errMsg(r) != want {
		t.Fatalf("muted REST post: %d %s", r.Status, r.Body)
	}
	if f := sendResult(t, sws, c.g1, "muted-1", "let me talk"); f.Type() != "error" || f["code"] != "forbidden" || f["message"] != want {
		t.Fatalf("muted WS send: %v", f)
	}
	// The mute is per conversation; others still post.
	c.stu.Must(201, "POST", msgsPath(c.g2), map[string]any{"body": "elsewhere is fine"})
	c.stu2.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "I am not muted"})
	mutes := c.own1.Must(200, "GET", mutesPath(c.g1), nil).JSON()["mutes"].([]any)
	if len(mutes) != 1 || mutes[0].(map[string]any)["until"] != until ||
		mutes[0].(map[string]any)["user"].(map[string]any)["id"] != float64(c.stuID) {
		t.Fatalf("mutes: %v", mutes)
	}

	c.own1.Must(204, "DELETE", fmt.Sprintf("%s/%d", mutesPath(c.g1), c.stuID), nil)
	for _, ws := range []*servertest.WS{sws, watcher, other} {
		f := waitFrame(t, ws, frameOf("member_muted"))
		if f.Int("user_id") != c.stuID || f["until"] != nil {
			t.Fatalf("unmute frame: %v", f)
		}
	}
	if m := c.own1.Must(200, "GET", mutesPath(c.g1), nil).JSON()["mutes"].([]any); len(m) != 0 {
		t.Fatalf("mutes after unmute: %v", m)
	}
	c.stu.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "thanks"})
	if f := sendResult(t, sws, c.g1, "muted-2", "back"); f.Type() != "ack" {
		t.Fatalf("WS send after unmute: %v", f)
	}
	// Unmuting again is harmless.
	c.own1.Must(204, "DELETE", fmt.Sprintf("%s/%d", mutesPath(c.g1), c.stuID), nil)
}

func TestSlowModeOnBothTransports(t *testing.T) {
	c := newModClass(t)
	conv := c.own1.Must(200, "PATCH", convPath(c.g1), map[string]any{"slow_mode_seconds": 120}).JSON()
	if conv["slow_mode_seconds"] != float64(120) {
		t.Fatalf("PATCH answer: %v", conv)
	}
	got := c.stu.Must(200, "GET", convPath(c.g1), nil).JSON()
	if got["slow_mode_seconds"] != float64(120) {
		t.Fatalf("GET conversation: %v", got)
	}
	c.stu.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "first", "client_id": "first"})
	r := c.stu.Do("POST", msgsPath(c.g1), map[string]any{"body": "second"})
	if r.Status != 429 || r.ErrCode() != "rate_limited" || !strings.HasPrefix(errMsg(r), "slow mode: wait ") {
		t.Fatalf("second post: %d %s", r.Status, r.Body)
	}
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 120 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if errMsg(r) != fmt.Sprintf("slow mode: wait %d s", ra) {
		t.Errorf("message %q and Retry-After %d disagree", errMsg(r), ra)
	}
	ws := c.stu.DialWS()
	if f := sendResult(t, ws, c.g1, "slow-1", "third"); f.Type() != "error" || f["code"] != "rate_limited" ||
		!strings.HasPrefix(f["message"].(string), "slow mode: wait ") {
		t.Fatalf("WS send in slow mode: %v", f)
	}
	// A resend of the stored message is not a new message: it answers the stored one.
	c.stu.Must(200, "POST", msgsPath(c.g1), map[string]any{"body": "first", "client_id": "first"})
	// Owners and admins are exempt.
	for i := range 3 {
		c.own1.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": fmt.Sprintf("owner %d", i)})
		c.admin.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": fmt.Sprintf("admin %d", i)})
	}
	// Other conversations are not slowed.
	c.stu.Must(201, "POST", msgsPath(c.g2), map[string]any{"body": "g2 a"})
	c.stu.Must(201, "POST", msgsPath(c.g2), map[string]any{"body": "g2 b"})

	// Under concurrency the commit decides: of a burst, exactly one is stored.
	sws := c.stu2.DialWS()
	const burst = 20
	for i := range burst {
		sws.Send(send(c.g1, fmt.Sprintf("b-%d", i), fmt.Sprintf("burst %d", i)))
	}
	acks, limited := 0, 0
	for acks+limited < burst {
		switch f := sws.Next(); f.Type() {
		case "ack":
			acks++
		case "error":
			if f["code"] != "rate_limited" {
				t.Fatalf("burst: %v", f)
			}
			limited++
		}
	}
	if acks != 1 {
		t.Fatalf("burst in slow mode: %d acks, %d refused", acks, limited)
	}
	// Turning it off lets the member post at once.
	c.own1.Must(200, "PATCH", convPath(c.g1), map[string]any{"slow_mode_seconds": 0})
	c.stu.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "free again"})
	if f := sendResult(t, ws, c.g1, "slow-2", "free on ws"); f.Type() != "ack" {
		t.Fatalf("WS after slow mode off: %v", f)
	}
}

func TestPauseAllBlocksEveryoneButAdmins(t *testing.T) {
	c := newModClass(t)
	sws := c.stu.DialWS()
	aws := c.admin.DialWS()
	set := c.admin.Must(200, "GET", "/api/v1/settings", nil).JSON()
	if set["paused"] != false || set["dm_policy"] != "anyone" {
		t.Fatalf("default settings: %v", set)
	}
	set = c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"paused": true}).JSON()
	if set["paused"] != true {
		t.Fatalf("PATCH answer: %v", set)
	}
	if info := c.env.Anon().Must(200, "GET", "/api/v1/info", nil).JSON(); info["paused"] != true {
		t.Fatalf("info while paused: %v", info)
	}
	for _, ws := range []*servertest.WS{sws, aws} {
		if f := waitFrame(t, ws, frameOf("class_paused")); f["paused"] != true {
			t.Fatalf("class_paused: %v", f)
		}
	}
	for _, who := range []*servertest.Client{c.stu, c.own1} { // owners too
		r := who.Do("POST", msgsPath(c.g1), map[string]any{"body": "hello?"})
		if r.Status != 403 || errMsg(r) != "the class is paused by the professor" {
			t.Fatalf("post while paused: %d %s", r.Status, r.Body)
		}
	}
	if f := sendResult(t, sws, 1, "p-1", "hello?"); f["code"] != "forbidden" || f["message"] != "the class is paused by the professor" {
		t.Fatalf("WS send while paused: %v", f)
	}
	c.admin.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "eyes on the board"})
	if f := sendResult(t, aws, 1, "a-1", "admins still post"); f.Type() != "ack" {
		t.Fatalf("admin WS send while paused: %v", f)
	}
	// Setting the same value again sends nothing; resuming tells everyone.
	c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"paused": true})
	c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"paused": false})
	if f := waitFrame(t, sws, frameOf("class_paused")); f["paused"] != false {
		t.Fatalf("resume frame: %v (a second pause frame was sent?)", f)
	}
	c.stu.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "back"})
	if f := sendResult(t, sws, 1, "p-2", "back on ws"); f.Type() != "ack" {
		t.Fatalf("WS after resume: %v", f)
	}
}

func TestDMPolicyOnBothTransports(t *testing.T) {
	c := newModClass(t)
	dm := func(who *servertest.Client, other int64) servertest.Resp {
		return who.Do("POST", "/api/v1/conversations", map[string]any{"kind": "direct", "member_ids": []int64{other}})
	}
	policy := func(p string) {
		if got := c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"dm_policy": p}).JSON()["dm_policy"]; got != p {
			t.Fatalf("dm_policy %v, want %s", got, p)
		}
	}
	// Under "anyone" two students open a DM, and one with the professor.
	peer := dm(c.stu, c.stu2ID)
	staff := dm(c.stu, c.adminID)
	if peer.Status != 201 || staff.Status != 201 {
		t.Fatalf("DMs under anyone: %d %d", peer.Status, staff.Status)
	}
	peerID, staffID := idOf(peer), idOf(staff)
	ws := c.stu.DialWS()
	wantPosts := func(conv int64, ok bool, wantMsg string) {
		t.Helper()
		r := c.stu.Do("POST", msgsPath(conv), map[string]any{"body": "hi"})
		f := sendResult(t, ws, conv, fmt.Sprintf("dm-%d-%d", conv, time.Now().UnixNano()), "hi")
		if ok {
			if r.Status != 201 || f.Type() != "ack" {
				t.Fatalf("post into %d: %d %s / %v", conv, r.Status, r.Body, f)
			}
			return
		}
		if r.Status != 403 || errMsg(r) != wantMsg || f["code"] != "forbidden" || f["message"] != wantMsg {
			t.Fatalf("post into %d: %d %s / %v", conv, r.Status, r.Body, f)
		}
	}
	wantPosts(peerID, true, "")

	policy("staff")
	if r := dm(c.stu2, c.outsideID); r.Status != 403 || !strings.Contains(errMsg(r), "only to staff") {
		t.Fatalf("student-student DM under staff: %d %s", r.Status, r.Body)
	}
	if r := dm(c.stu, c.stu2ID); r.Status != 403 { // even the existing one
		t.Fatalf("reopening a student DM under staff: %d %s", r.Status, r.Body)
	}
	if r := dm(c.stu2, c.adminID); r.Status != 201 {
		t.Fatalf("DM with staff under staff: %d %s", r.Status, r.Body)
	}
	wantPosts(peerID, false, "in this class you can send direct messages only to staff")
	wantPosts(staffID, true, "")
	wantPosts(c.g1, true, "") // groups are not affected

	policy("none")
	if r := dm(c.own1, c.adminID); r.Status != 403 || !strings.Contains(errMsg(r), "turned off") {
		t.Fatalf("DM with staff under none: %d %s", r.Status, r.Body)
	}
	wantPosts(staffID, false, "direct messages are turned off in this class")
	wantPosts(peerID, false, "direct messages are turned off in this class")
	// Admins are never limited.
	if r := dm(c.admin, c.outsideID); r.Status != 201 {
		t.Fatalf("admin DM under none: %d %s", r.Status, r.Body)
	}
	c.admin.Must(201, "POST", msgsPath(staffID), map[string]any{"body": "see me after class"})

	policy("anyone")
	wantPosts(peerID, true, "")
	wantPosts(staffID, true, "")
}

func TestAnnouncementReachesEveryGroup(t *testing.T) {
	c := newModClass(t)
	dmID := idOf(c.stu.Must(201, "POST", "/api/v1/conversations", map[string]any{"kind": "direct", "member_ids": []int64{c.stu2ID}}))
	c.admin.Must(200, "PATCH", convPath(c.g1), map[string]any{"locked": true})
	ws := c.stu.DialWS()
	for _, id := range []int64{1, c.g1, c.g2} {
		ws.Send(map[string]any{"type": "subscribe", "conversation_id": id})
		ws.Expect("subscribed")
	}
	res := c.admin.Must(201, "POST", "/api/v1/announcements", map[string]any{"body": "Exam moved to Monday"}).JSON()
	msgs := res["messages"].([]any)
	got := map[int64]bool{}
	for _, m := range msgs {
		m := m.(map[string]any)
		if m["body"] != "Exam moved to Monday" || m["sender"].(map[string]any)["id"] != float64(c.adminID) {
			t.Fatalf("announcement message %v", m)
		}
		got[int64(m["conversation_id"].(float64))] = true
	}
	if len(msgs) != 3 || !got[1] || !got[c.g1] || !got[c.g2] || got[dmID] {
		t.Fatalf("announcement went to %v, want General, g1 (locked), g2 and not the DM", got)
	}
	seen := map[int64]bool{}
	for len(seen) < 3 {
		f := waitFrame(t, ws, frameOf("message"))
		if f.Message()["body"] != "Exam moved to Monday" {
			t.Fatalf("frame %v", f)
		}
		seen[int64(f.Message()["conversation_id"].(float64))] = true
	}
	page := c.stu2.Must(200, "GET", msgsPath(c.g1), nil)
	if !strings.Contains(string(page.Body), "Exam moved to Monday") {
		t.Fatalf("not stored: %s", page.Body)
	}
	if r := c.own1.Do("POST", "/api/v1/announcements", map[string]any{"body": "x"}); r.Status != 403 {
		t.Fatalf("owner announcing: %d", r.Status)
	}
}

func TestPinsListAndFrames(t *testing.T) {
	c := newModClass(t)
	a := idOf(c.stu.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "first"}))
	b := idOf(c.stu2.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": "second"}))
	ws := c.stu.DialWS()
	ws.Send(map[string]any{"type": "subscribe", "conversation_id": c.g1})
	ws.Expect("subscribed")
	c.own1.Must(204, "POST", fmt.Sprintf("/api/v1/messages/%d/pin", b), nil)
	c.own1.Must(204, "POST", fmt.Sprintf("/api/v1/messages/%d/pin", a), nil)
	c.own1.Must(204, "POST", fmt.Sprintf("/api/v1/messages/%d/pin", a), nil) // again: no change, no frame
	for _, want := range []int64{b, a} {
		f := waitFrame(t, ws, frameOf("message_pinned"))
		if f.Int("message_id") != want || f.Int("conversation_id") != c.g1 || f["pinned"] != true {
			t.Fatalf("message_pinned %v, want %d", f, want)
		}
	}
	var pins struct {
		Messages []struct {
			ID     int64 `json:"id"`
			Pinned bool  `json:"pinned"`
		} `json:"messages"`
	}
	c.stu2.Must(200, "GET", fmt.Sprintf("/api/v1/conversations/%d/pins", c.g1), nil).Decode(t, &pins)
	if len(pins.Messages) != 2 || pins.Messages[0].ID != a || pins.Messages[1].ID != b || !pins.Messages[0].Pinned {
		t.Fatalf("pins (newest pin first): %+v", pins)
	}
	if !strings.Contains(string(c.stu.Must(200, "GET", msgsPath(c.g1), nil).Body), `"pinned":true`) {
		t.Fatal("messages do not show pinned")
	}
	c.admin.Must(204, "DELETE", fmt.Sprintf("/api/v1/messages/%d/pin", a), nil)
	if f := waitFrame(t, ws, frameOf("message_pinned")); f.Int("message_id") != a || f["pinned"] != false {
		t.Fatalf("unpin frame %v", f)
	}
	// A deleted pinned message leaves the list.
	c.stu2.Must(204, "DELETE", fmt.Sprintf("/api/v1/messages/%d", b), nil)
	c.stu.Must(200, "GET", fmt.Sprintf("/api/v1/conversations/%d/pins", c.g1), nil).Decode(t, &pins)
	if len(pins.Messages) != 0 {
		t.Fatalf("pins after delete: %+v", pins)
	}
	if r := c.admin.Do("POST", "/api/v1/messages/999999/pin", nil); r.Status != 404 {
		t.Fatalf("pin unknown message: %d", r.Status)
	}
}

type auditEntry struct {
	ID    int64 `json:"id"`
	Actor *struct {
		ID int64 `json:"id"`
	} `json:"actor"`
	Action     string         `json:"action"`
	TargetType string         `json:"target_type"`
	TargetID   *int64         `json:"target_id"`
	Details    map[string]any `json:"details"`
	CreatedAt  string         `json:"created_at"`
}

type auditPage struct {
	Entries []auditEntry `json:"entries"`
	HasMore bool         `json:"has_more"`
}

func TestAuditLogRecordsEveryActionAndCannotBeChanged(t *testing.T) {
	c := newModClass(t)
	ad := c.admin
	// Every audited action, by the admin unless said otherwise.
	made := ad.Must(201, "POST", "/api/v1/users", map[string]any{"username": "newbie", "password": "long enough pw"}).JSON()
	newID := int64(made["id"].(float64))
	ad.Must(200, "PATCH", fmt.Sprintf("/api/v1/users/%d", newID), map[string]any{"display_name": "Newbie", "password": "another long pw"})
	ad.Must(204, "DELETE", fmt.Sprintf("/api/v1/users/%d", newID), nil)
	oldCode := ad.Must(200, "GET", "/api/v1/settings", nil).JSON()["join_code"].(string)
	ad.Must(200, "PATCH", "/api/v1/settings", map[string]any{"rotate_join_code": true, "guest_access": false, "dm_policy": "staff"})
	ad.Must(200, "PATCH", "/api/v1/settings", map[string]any{"join_code": "SECRET-CODE-1"})
	c.own1.Must(200, "PATCH", convPath(c.g1), map[string]any{"name": "Renamed", "slow_mode_seconds": 10})
	c.own1.Must(201, "POST", fmt.Sprintf("/api/v1/conversations/%d/members", c.g1), map[string]any{"user_id": c.outsideID})
	c.own1.Must(204, "DELETE", fmt.Sprintf("/api/v1/conversations/%d/members/%d", c.g1, c.outsideID), nil)
	c.stu2.Must(204, "DELETE", fmt.Sprintf("/api/v1/conversations/%d/members/%d", c.g1, c.stu2ID), nil) // leaving: not audited
	// Under dm_policy staff a group of two students takes no posts: the admin joins g2.
	ad.Must(201, "POST", fmt.Sprintf("/api/v1/conversations/%d/members", c.g2), map[string]any{"user_id": c.adminID})
	own := idOf(c.stu.Must(201, "POST", msgsPath(c.g2), map[string]any{"body": "mine"}))
	c.stu.Must(204, "DELETE", fmt.Sprintf("/api/v1/messages/%d", own), nil) // own message: not audited
	other := idOf(c.stu.Must(201, "POST", msgsPath(c.g2), map[string]any{"body": "rude"}))
	c.own2.Must(204, "DELETE", fmt.Sprintf("/api/v1/messages/%d", other), nil)
	keep := idOf(c.stu.Must(201, "POST", msgsPath(c.g2), map[string]any{"body": "keep"}))
	c.own2.Must(201, "POST", mutesPath(c.g2), map[string]any{"user_id": c.stuID, "minutes": 5})
	c.own2.Must(204, "DELETE", fmt.Sprintf("%s/%d", mutesPath(c.g2), c.stuID), nil)
	c.own2.Must(204, "POST", fmt.Sprintf("/api/v1/messages/%d/pin", keep), nil)
	c.own2.Must(204, "DELETE", fmt.Sprintf("/api/v1/messages/%d/pin", keep), nil)
	ad.Must(201, "POST", "/api/v1/announcements", map[string]any{"body": "Audit me"})
	ad.Must(204, "DELETE", convPath(c.g2), nil)

	var page auditPage
	ad.Must(200, "GET", "/api/v1/audit?limit=200", nil).Decode(t, &page)
	byAction := map[string][]auditEntry{}
	for i, e := range page.Entries {
		if i > 0 && e.ID >= page.Entries[i-1].ID {
			t.Fatalf("not newest first: %d after %d", e.ID, page.Entries[i-1].ID)
		}
		if _, err := time.Parse(time.RFC3339, e.CreatedAt); err != nil {
			t.Errorf("created_at %q", e.CreatedAt)
		}
		byAction[e.Action] = append(byAction[e.Action], e)
	}
	want := []struct {
		action, targetType string
		actor, target      int64
	}{
		{"user.create", "user", c.adminID, newID},
		{"user.update", "user", c.adminID, newID},
		{"user.disable", "user", c.adminID, newID},
		{"settings.update", "settings", c.adminID, 0},
		{"conversation.update", "conversation", c.own1ID, c.g1},
		{"member.add", "user", c.own1ID, c.outsideID},
		{"member.remove", "user", c.own1ID, c.outsideID},
		{"message.delete", "message", c.own2ID, other},
		{"member.mute", "user", c.own2ID, c.stuID},
		{"member.unmute", "user", c.own2ID, c.stuID},
		{"message.pin", "message", c.own2ID, keep},
		{"message.unpin", "message", c.own2ID, keep},
		{"announcement.post", "announcement", c.adminID, 0},
		{"conversation.delete", "conversation", c.adminID, c.g2},
	}
	for _, w := range want {
		found := false
		for _, e := range byAction[w.action] {
			target := int64(0)
			if e.TargetID != nil {
				target = *e.TargetID
			}
			if e.Actor != nil && e.Actor.ID == w.actor && e.TargetType == w.targetType && target == w.target {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s by %d on %s %d in %+v", w.action, w.actor, w.targetType, w.target, byAction[w.action])
		}
	}
	if n := len(byAction["member.remove"]); n != 1 {
		t.Errorf("member.remove entries: %d (leaving must not be audited)", n)
	}
	if n := len(byAction["message.delete"]); n != 1 {
		t.Errorf("message.delete entries: %d (deleting one's own message must not be audited)", n)
	}
	// Details: what changed, never a password or a join code.
	raw := string(ad.Must(200, "GET", "/api/v1/audit?limit=200", nil).Body)
	for _, secret := range []string{"another long pw", "long enough pw", oldCode, "SECRET-CODE-1"} {
		if strings.Contains(raw, secret) {
			t.Errorf("the audit log shows a secret %q", secret)
		}
	}
	upd := byAction["user.update"][0].Details
	if upd["display_name"] != "Newbie" || upd["password"] != "changed" {
		t.Errorf("user.update details %v", upd)
	}
	var rotated, setCode bool
	for _, e := range byAction["settings.update"] {
		if e.Details["join_code"] == "rotated" && e.Details["guest_access"] == false && e.Details["dm_policy"] == "staff" {
			rotated = true
		}
		if e.Details["join_code"] == "rotated" && len(e.Details) == 1 {
			setCode = true
		}
	}
	if !rotated || !setCode {
		t.Errorf("settings.update details: %+v", byAction["settings.update"])
	}
	if d := byAction["conversation.update"][0].Details; d["name"] != "Renamed" || d["slow_mode_seconds"] != float64(10) {
		t.Errorf("conversation.update details %v", d)
	}
	if d := byAction["member.mute"][0].Details; d["conversation_id"] != float64(c.g2) || d["minutes"] != float64(5) {
		t.Errorf("member.mute details %v", d)
	}

	// Filters.
	var f auditPage
	ad.Must(200, "GET", "/api/v1/audit?action=member.mute", nil).Decode(t, &f)
	if len(f.Entries) != 1 || f.Entries[0].Action != "member.mute" || f.HasMore {
		t.Errorf("action filter: %+v", f)
	}
	ad.Must(200, "GET", fmt.Sprintf("/api/v1/audit?actor_id=%d", c.own2ID), nil).Decode(t, &f)
	if len(f.Entries) != 5 {
		t.Errorf("actor filter: %d entries, want 5: %+v", len(f.Entries), f.Entries)
	}
	for _, e := range f.Entries {
		if e.Actor == nil || e.Actor.ID != c.own2ID {
			t.Errorf("actor filter let %+v through", e)
		}
	}
	ad.Must(200, "GET", fmt.Sprintf("/api/v1/audit?actor_id=%d&action=message.pin", c.own2ID), nil).Decode(t, &f)
	if len(f.Entries) != 1 {
		t.Errorf("both filters: %+v", f)
	}
	// Paging with limit and before_id walks the whole log once.
	var all []int64
	before := ""
	for {
		var p auditPage
		ad.Must(200, "GET", "/api/v1/audit?limit=3"+before, nil).Decode(t, &p)
		if len(p.Entries) > 3 {
			t.Fatalf("page of %d", len(p.Entries))
		}
		for _, e := range p.Entries {
			all = append(all, e.ID)
		}
		if !p.HasMore {
			break
		}
		before = fmt.Sprintf("&before_id=%d", p.Entries[len(p.Entries)-1].ID)
	}
	if len(all) != len(page.Entries) {
		t.Errorf("paging saw %d entries, the full list has %d", len(all), len(page.Entries))
	}
	for _, q := range []string{"limit=0", "limit=201", "limit=x", "actor_id=-1", "before_id=abc", "actor_id=0"} {
		if r := ad.Do("GET", "/api/v1/audit?"+q, nil); r.Status != 400 {
			t.Errorf("audit?%s: %d", q, r.Status)
		}
	}

	// No route changes or deletes an entry.
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		if r := ad.Do(m, "/api/v1/audit", map[string]any{}); r.Status != http.StatusMethodNotAllowed {
			t.Errorf("%s /api/v1/audit: %d", m, r.Status)
		}
		id := page.Entries[0].ID
		if r := ad.Do(m, fmt.Sprintf("/api/v1/audit/%d", id), map[string]any{}); r.Status != 404 {
			t.Errorf("%s /api/v1/audit/%d: %d", m, id, r.Status)
		}
	}
	var after auditPage
	ad.Must(200, "GET", "/api/v1/audit?limit=200", nil).Decode(t, &after)
	if len(after.Entries) != len(page.Entries) || after.Entries[0].ID != page.Entries[0].ID {
		t.Errorf("the log changed: %d → %d entries", len(page.Entries), len(after.Entries))
	}
}

// TestModerationConcurrentMuteAndSend: sends racing with a mute are either
// stored before it or refused after it; none slips through once the mute answered.
func TestModerationConcurrentMuteAndSend(t *testing.T) {
	c := newModClass(t)
	ws := c.stu.DialWS()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 100 {
			ws.Send(send(c.g1, fmt.Sprintf("r-%d", i), fmt.Sprintf("race %d", i)))
		}
	}()
	c.own1.Must(201, "POST", mutesPath(c.g1), map[string]any{"user_id": c.stuID, "minutes": 1})
	wg.Wait()
	refusedFrom := -1
	for i := range 100 {
		f := waitFrame(t, ws, func(f servertest.Frame) bool {
			return (f.Type() == "ack" || f.Type() == "error") && f["client_id"] == fmt.Sprintf("r-%d", i)
		})
		if f.Type() == "error" && refusedFrom < 0 {
			refusedFrom = i
		}
		if f.Type() == "ack" && refusedFrom >= 0 {
			t.Fatalf("r-%d acked after r-%d was refused", i, refusedFrom)
		}
	}
	if f := sendResult(t, ws, c.g1, "after", "after the mute"); f["code"] != "forbidden" {
		t.Fatalf("send after the mute answered: %v", f)
	}
}
