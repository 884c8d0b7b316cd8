package api_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"teamchat/server/servertest"
)

// Raised hands: the queue in order, the student's place, next / lower / lower
// all, the frames every member receives, moderation and the exports.

type handClass struct {
	env              *servertest.Env
	admin, ann, ben  *servertest.Client
	guest, outsider  *servertest.Client
	general, private int64
}

func newHandClass(t *testing.T) *handClass {
	t.Helper()
	env := servertest.Start(t)
	c := &handClass{env: env, admin: env.AddUser("prof", "admin"), ann: env.AddUser("ann", "user"), ben: env.AddUser("ben", "user")}
	code := c.admin.Must(200, "GET", "/api/v1/settings", nil).JSON()["join_code"].(string)
	c.guest = env.Anon()
	c.guest.Token = c.guest.Must(201, "POST", "/api/v1/auth/guest", map[string]any{"display_name": "Visitor", "join_code": code}).JSON()["access_token"].(string)
	c.outsider = env.AddUser("olga", "user")
	for _, cv := range c.ann.Must(200, "GET", "/api/v1/conversations", nil).JSON()["conversations"].([]any) {
		if m := cv.(map[string]any); m["name"] == "General" {
			c.general = int64(m["id"].(float64))
		}
	}
	if c.general == 0 {
		t.Fatal("no General conversation")
	}
	c.private = idOf(c.ann.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Study", "member_ids": []int64{c.ben.ID()}}))
	return c
}

func handsPath(conv int64, suffix string) string {
	return fmt.Sprintf("/api/v1/conversations/%d/hands%s", conv, suffix)
}

func queueOf(t *testing.T, c *servertest.Client, conv int64) []int64 {
	t.Helper()
	var out struct {
		Hands []struct {
			User  struct{ ID int64 } `json:"user"`
			Place int                `json:"place"`
		} `json:"hands"`
	}
	c.Must(200, "GET", handsPath(conv, ""), nil).Decode(t, &out)
	var ids []int64
	for i, h := range out.Hands {
		if h.Place != i+1 {
			t.Errorf("hand %d has place %d", i, h.Place)
		}
		ids = append(ids, h.User.ID)
	}
	return ids
}

// expectHand waits for the next hand_* frame, skipping other traffic.
func expectHand(t *testing.T, ws *servertest.WS, typ string) servertest.Frame {
	t.Helper()
	for {
		f := ws.Next()
		if strings.HasPrefix(f.Type(), "hand_") {
			if f.Type() != typ {
				t.Fatalf("got %v, want %s", f, typ)
			}
			return f
		}
	}
}

func TestHandsQueue(t *testing.T) {
	c := newHandClass(t)
	g := c.general
	profWS, benWS := c.admin.DialWS(), c.ben.DialWS()
	defer profWS.Close()
	defer benWS.Close()

	if q := queueOf(t, c.ann, g); len(q) != 0 {
		t.Fatalf("queue starts with %v", q)
	}
	// Ann, then Ben, then the guest: places 1, 2, 3; raising again keeps the place.
	r := c.ann.Must(201, "POST", handsPath(g, ""), nil)
	if r.JSON()["place"] != 1.0 {
		t.Fatalf("ann's place: %s", r.Body)
	}
	f := expectHand(t, profWS, "hand_raised")
	if h := f["hand"].(map[string]any); h["place"] != 1.0 || h["user"].(map[string]any)["id"] != float64(c.ann.ID()) {
		t.Fatalf("prof got %v", f)
	}
	expectHand(t, benWS, "hand_raised") // a member not following the conversation hears it too
	if r := c.ben.Must(201, "POST", handsPath(g, ""), nil); r.JSON()["place"] != 2.0 {
		t.Fatalf("ben's place: %s", r.Body)
	}
	expectHand(t, profWS, "hand_raised")
	if r := c.ann.Must(200, "POST", handsPath(g, ""), nil); r.JSON()["place"] != 1.0 {
		t.Fatalf("ann raising again: %s", r.Body)
	}
	c.guest.Must(201, "POST", handsPath(g, ""), nil)
	guestID := c.guest.ID()
	if q := queueOf(t, c.ben, g); fmt.Sprint(q) != fmt.Sprint([]int64{c.ann.ID(), c.ben.ID(), guestID}) {
		t.Fatalf("queue %v", q)
	}

	// Next calls on Ann and lowers her hand; Ben is first now.
	r = c.admin.Must(200, "POST", handsPath(g, "/next"), nil)
	if r.JSON()["user"].(map[string]any)["id"] != float64(c.ann.ID()) {
		t.Fatalf("next: %s", r.Body)
	}
	expectHand(t, profWS, "hand_raised") // the guest's
	f = expectHand(t, benWS, "hand_raised")
	f = expectHand(t, benWS, "hand_raised")
	f = expectHand(t, benWS, "hand_lowered")
	if f.Int("user_id") != c.ann.ID() || f["reason"] != "next" || f.Int("by_user_id") != c.admin.ID() {
		t.Fatalf("hand_lowered %v", f)
	}
	if q := queueOf(t, c.ben, g); len(q) != 2 || q[0] != c.ben.ID() {
		t.Fatalf("after next: %v", q)
	}

	// A student may lower their own hand, not another's.
	c.ann.Must(201, "POST", handsPath(g, ""), nil)
	if r := c.ann.Do("DELETE", handsPath(g, fmt.Sprintf("/%d", c.ben.ID())), nil); r.Status != 403 || r.ErrCode() != "forbidden" {
		t.Fatalf("student lowering another's hand: %d %s", r.Status, r.Body)
	}
	c.ann.Must(204, "DELETE", handsPath(g, fmt.Sprintf("/%d", c.ann.ID())), nil)
	f = expectHand(t, benWS, "hand_raised")
	f = expectHand(t, benWS, "hand_lowered")
	if f["reason"] != "self" || f["by_user_id"] != nil {
		t.Fatalf("self lower %v", f)
	}
	c.ann.Must(204, "DELETE", handsPath(g, fmt.Sprintf("/%d", c.ann.ID())), nil) // already down: nothing changes

	// The professor lowers one (the guest), then all.
	c.admin.Must(204, "DELETE", handsPath(g, fmt.Sprintf("/%d", guestID)), nil)
	if f := expectHand(t, benWS, "hand_lowered"); f["reason"] != "lowered" || f.Int("user_id") != guestID {
		t.Fatalf("lowered %v", f)
	}
	c.ann.Must(201, "POST", handsPath(g, ""), nil)
	expectHand(t, benWS, "hand_raised")
	if r := c.admin.Must(200, "DELETE", handsPath(g, ""), nil); r.JSON()["lowered"] != 2.0 {
		t.Fatalf("lower all: %s", r.Body)
	}
	f = expectHand(t, benWS, "hand_cleared")
	if ids := f["user_ids"].([]any); len(ids) != 2 || ids[0] != float64(c.ben.ID()) {
		t.Fatalf("hand_cleared %v", f)
	}
	if q := queueOf(t, c.admin, g); len(q) != 0 {
		t.Fatalf("after lower all: %v", q)
	}
	if r := c.admin.Do("POST", handsPath(g, "/next"), nil); r.Status != 404 || r.ErrCode() != "not_found" {
		t.Fatalf("next on an empty queue: %d %s", r.Status, r.Body)
	}
	if r := c.admin.Must(200, "DELETE", handsPath(g, ""), nil); r.JSON()["lowered"] != 0.0 {
		t.Fatalf("lower all on an empty queue: %s", r.Body)
	}
}

func TestHandsRefusals(t *testing.T) {
	c := newHandClass(t)
	p := c.private
	// Outsiders do not learn the conversation exists; members cannot manage.
	for _, rq := range []struct{ method, path string }{
		{"GET", handsPath(p, "")}, {"POST", handsPath(p, "")}, {"DELETE", handsPath(p, "")},
		{"POST", handsPath(p, "/next")}, {"DELETE", handsPath(p, fmt.Sprintf("/%d", c.ann.ID()))},
	} {
		if r := c.outsider.Do(rq.method, rq.path, nil); r.Status != 404 || r.ErrCode() != "not_found" {
			t.Errorf("outsider %s %s: %d %s", rq.method, rq.path, r.Status, r.Body)
		}
	}
	c.ann.Must(201, "POST", handsPath(p, ""), nil)
	for _, rq := range []struct{ method, path string }{{"DELETE", handsPath(p, "")}, {"POST", handsPath(p, "/next")}} {
		if r := c.ben.Do(rq.method, rq.path, nil); r.Status != 403 || r.ErrCode() != "forbidden" {
			t.Errorf("member %s %s: %d %s", rq.method, rq.path, r.Status, r.Body)
		}
	}
	for _, path := range []string{"/api/v1/conversations/0/hands", "/api/v1/conversations/x/hands", handsPath(p, "/0"), handsPath(p, "/nobody")} {
		if r := c.ann.Do("GET", path, nil); r.Status != 404 && r.Status != 405 {
			t.Errorf("GET %s: %d", path, r.Status)
		}
	}
	if r := c.ann.Do("DELETE", handsPath(p, "/abc"), nil); r.Status != 404 || r.ErrCode() != "not_found" {
		t.Errorf("bad user id: %d %s", r.Status, r.Body)
	}
	if r := c.env.Anon().Do("POST", handsPath(c.general, ""), nil); r.Status != 401 || r.ErrCode() != "unauthorized" {
		t.Errorf("anonymous: %d %s", r.Status, r.Body)
	}

	// Muted: the student and the guest cannot raise; lowering their own still works.
	g := c.general
	c.ben.Must(201, "POST", handsPath(g, ""), nil)
	for _, who := range []*servertest.Client{c.ben, c.guest} {
		c.admin.Must(201, "POST", fmt.Sprintf("/api/v1/conversations/%d/mutes", g), map[string]any{"user_id": who.ID(), "minutes": 5})
	}
	for name, who := range map[string]*servertest.Client{"student": c.ben, "guest": c.guest} {
		c.ben.Must(204, "DELETE", handsPath(g, fmt.Sprintf("/%d", c.ben.ID())), nil)
		r := who.Do("POST", handsPath(g, ""), nil)
		if r.Status != 403 || r.ErrCode() != "forbidden" || !strings.HasPrefix(errMsg(r), "you are muted in this conversation until ") {
			t.Errorf("muted %s raised a hand: %d %s", name, r.Status, r.Body)
		}
	}
	c.ann.Must(201, "POST", handsPath(g, ""), nil) // not muted
	// Pause all stops students and guests, not the professor.
	c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"paused": true})
	c.ann.Must(204, "DELETE", handsPath(g, fmt.Sprintf("/%d", c.ann.ID())), nil)
	for name, who := range map[string]*servertest.Client{"student": c.ann, "guest": c.guest} {
		r := who.Do("POST", handsPath(g, ""), nil)
		if r.Status != 403 || r.ErrCode() != "forbidden" || errMsg(r) != "the class is paused by the professor" {
			t.Errorf("paused %s raised a hand: %d %s", name, r.Status, r.Body)
		}
	}
	c.admin.Must(201, "POST", handsPath(g, ""), nil)
	c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"paused": false})
	c.ann.Must(201, "POST", handsPath(g, ""), nil)
	if q := queueOf(t, c.ann, g); fmt.Sprint(q) != fmt.Sprint([]int64{c.admin.ID(), c.ann.ID()}) {
		t.Errorf("queue %v", q)
	}
}

// Hands count in participation and appear in transcripts (json and html) and
// the session transcript.
func TestHandsInExports(t *testing.T) {
	c := newHandClass(t)
	g := c.general
	sess := idOf(c.admin.Must(201, "POST", "/api/v1/sessions", map[string]any{"name": "Lecture"}))
	c.ann.Must(201, "POST", handsPath(g, ""), nil)
	c.admin.Must(200, "POST", handsPath(g, "/next"), nil)
	c.ann.Must(201, "POST", handsPath(g, ""), nil)
	c.ben.Must(201, "POST", handsPath(c.private, ""), nil)
	c.ben.Must(204, "DELETE", handsPath(c.private, fmt.Sprintf("/%d", c.ben.ID())), nil)

	var part struct {
		Rows []struct {
			User        struct{ ID int64 } `json:"user"`
			HandsRaised int                `json:"hands_raised"`
		} `json:"rows"`
	}
	c.admin.Must(200, "GET", "/api/v1/participation", nil).Decode(t, &part)
	got := map[int64]int{}
	for _, r := range part.Rows {
		got[r.User.ID] = r.HandsRaised
	}
	if got[c.ann.ID()] != 2 || got[c.ben.ID()] != 1 || got[c.guest.ID()] != 0 {
		t.Errorf("hands_raised %v", got)
	}
	recs, err := csv.NewReader(strings.NewReader(string(c.admin.Must(200, "GET", "/api/v1/participation?format=csv", nil).Body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(recs[0], "hands_raised")
	if col < 0 {
		t.Fatalf("csv header %v", recs[0])
	}
	for _, row := range recs[1:] {
		if row[1] == "ann" && row[col] != "2" {
			t.Errorf("ann's csv row %v", row)
		}
	}

	var tr struct {
		Hands []struct {
			User   struct{ ID int64 }  `json:"user"`
			Raised bool                `json:"raised"`
			Reason string              `json:"reason"`
			By     *struct{ ID int64 } `json:"by"`
		} `json:"hands"`
	}
	c.admin.Must(200, "GET", fmt.Sprintf("/api/v1/conversations/%d/transcript?format=json", g), nil).Decode(t, &tr)
	if len(tr.Hands) != 3 || !tr.Hands[0].Raised || tr.Hands[1].Reason != "next" || tr.Hands[1].By == nil || tr.Hands[1].By.ID != c.admin.ID() || !tr.Hands[2].Raised {
		b, _ := json.Marshal(tr)
		t.Errorf("transcript hands %s", b)
	}
	html := string(c.admin.Must(200, "GET", fmt.Sprintf("/api/v1/conversations/%d/transcript?format=html", g), nil).Body)
	if !strings.Contains(html, "Raised hands") || !strings.Contains(html, "was called on by prof") {
		t.Errorf("html transcript without the hands:\n%s", html)
	}
	var st struct {
		Conversations []struct {
			Conversation struct{ ID int64 } `json:"conversation"`
			Hands        []any              `json:"hands"`
		} `json:"conversations"`
	}
	c.admin.Must(200, "GET", fmt.Sprintf("/api/v1/sessions/%d/transcript?format=json", sess), nil).Decode(t, &st)
	n := map[int64]int{}
	for _, sc := range st.Conversations {
		n[sc.Conversation.ID] = len(sc.Hands)
	}
	if n[g] != 3 || n[c.private] != 2 {
		t.Errorf("session transcript hands per conversation %v", n)
	}
}
