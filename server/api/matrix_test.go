package api_test

import (
	"fmt"
	"strings"
	"testing"

	"teamchat/server/api"
	"teamchat/server/servertest"
)

// The authorization matrix: every route of the router × every kind of caller.
// A route missing from the table fails the test, so no new route goes untested.

type caseFixture struct {
	conv, msg, extra, freshUser int64
}

type roleSet struct {
	env                          *servertest.Env
	admin                        *servertest.Client
	clients                      map[string]*servertest.Client
	ownerID, memberID, removedID int64
	n                            int
}

// fresh makes a group owned by "owner" with "member" and "extra" in it, in which
// "removed" was a member and was removed, and a message by "member".
func (r *roleSet) fresh(t *testing.T) caseFixture {
	t.Helper()
	r.n++
	owner := r.clients["owner"]
	extra := r.env.AddUser(fmt.Sprintf("extra%d", r.n), "user")
	fu := r.env.AddUser(fmt.Sprintf("fresh%d", r.n), "user")
	res := owner.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": fmt.Sprintf("G%d", r.n),
		"member_ids": []int64{r.memberID, r.removedID, extra.ID()}})
	conv := int64(res.JSON()["id"].(float64))
	owner.Must(204, "DELETE", fmt.Sprintf("/api/v1/conversations/%d/members/%d", conv, r.removedID), nil)
	m := r.clients["member"].Must(201, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), map[string]any{"body": "hi"})
	return caseFixture{conv: conv, msg: int64(m.JSON()["id"].(float64)), extra: extra.ID(), freshUser: fu.ID()}
}

var callers = []string{"admin", "owner", "member", "nonmember", "removed", "guest", "disabled", "anon"}

func TestAuthorizationMatrix(t *testing.T) {
	env := servertest.Start(t)
	rs := &roleSet{env: env, clients: map[string]*servertest.Client{}}
	rs.admin = env.AddUser("prof", "admin")
	rs.clients["admin"] = rs.admin
	for _, n := range []string{"owner", "member", "nonmember", "removed", "disabled"} {
		rs.clients[n] = env.AddUser(n+"x", "user")
	}
	rs.ownerID, rs.memberID, rs.removedID = rs.clients["owner"].ID(), rs.clients["member"].ID(), rs.clients["removed"].ID()
	code := rs.admin.Must(200, "GET", "/api/v1/settings", nil).JSON()["join_code"].(string)
	g := env.Anon()
	g.Token = g.Must(201, "POST", "/api/v1/auth/guest", map[string]any{"display_name": "Guest", "join_code": code}).JSON()["access_token"].(string)
	rs.clients["guest"] = g
	rs.clients["anon"] = env.Anon()
	did := rs.clients["disabled"].ID()
	rs.admin.Must(204, "DELETE", fmt.Sprintf("/api/v1/users/%d", did), nil)

	// expect: caller → status; "*" is the default for callers not named.
	type entry struct {
		public bool // reachable without credentials: only checked for no 5xx
		path   func(f caseFixture) string
		body   func(caller string, f caseFixture) any
		expect map[string]int
	}
	signedIn := func(status int) map[string]int { return map[string]int{"*": status, "disabled": 401, "anon": 401} }
	adminOnly := func(status int) map[string]int {
		return map[string]int{"admin": status, "*": 403, "disabled": 401, "anon": 401}
	}
	convRoute := func(admin, owner, member int) map[string]int {
		return map[string]int{"admin": admin, "owner": owner, "member": member, "*": 404, "disabled": 401, "anon": 401}
	}
	conv := func(suffix string) func(caseFixture) string {
		return func(f caseFixture) string { return fmt.Sprintf("/api/v1/conversations/%d%s", f.conv, suffix) }
	}
	fixed := func(p string) func(caseFixture) string { return func(caseFixture) string { return p } }
	msgPath := func(suffix string) func(caseFixture) string {
		return func(f caseFixture) string { return fmt.Sprintf("/api/v1/messages/%d%s", f.msg, suffix) }
	}
	none := func(string, caseFixture) any { return nil }
	body := func(v any) func(string, caseFixture) any { return func(string, caseFixture) any { return v } }
	n := 0
	table := map[string]entry{
		"GET /healthz":                {public: true, path: fixed("/healthz"), body: none},
		"GET /api/v1/info":            {public: true, path: fixed("/api/v1/info"), body: none},
		"POST /api/v1/session":        {public: true, path: fixed("/api/v1/session"), body: body(map[string]any{"username": "memberx", "password": servertest.Password})},
		"GET /api/v1/session":         {path: fixed("/api/v1/session"), body: none, expect: signedIn(401)},
		"DELETE /api/v1/session":      {path: fixed("/api/v1/session"), body: none, expect: signedIn(204)},
		"POST /api/v1/session/ticket": {public: true, path: fixed("/api/v1/session/ticket"), body: body(map[string]any{"ticket": "forged"})},
		"POST /api/v1/auth/token":     {public: true, path: fixed("/api/v1/auth/token"), body: body(map[string]any{"username": "memberx", "password": servertest.Password})},
		"POST /api/v1/auth/refresh":   {public: true, path: fixed("/api/v1/auth/refresh"), body: body(map[string]any{"refresh_token": "x"})},
		"POST /api/v1/auth/revoke":    {public: true, path: fixed("/api/v1/auth/revoke"), body: body(map[string]any{"refresh_token": "x"})},
		"POST /api/v1/auth/register":  {public: true, path: fixed("/api/v1/auth/register"), body: body(map[string]any{"username": "x", "password": "x", "display_name": "x", "join_code": "x"})},
		"POST /api/v1/auth/guest":     {public: true, path: fixed("/api/v1/auth/guest"), body: body(map[string]any{"display_name": "x", "join_code": "WRONG"})},
		"GET /api/v1/ws":              {public: true, path: fixed("/api/v1/ws"), body: none},
		// The event stream would stay open: a bad parameter shows the decision without streaming.
		"GET /api/v1/events":              {path: fixed("/api/v1/events?subscribe=x"), body: none, expect: signedIn(400)},
		"POST /api/v1/events/{stream_id}": {path: fixed("/api/v1/events/ended"), body: body(map[string]any{"type": "ping"}), expect: signedIn(404)},
		// The API's own description is public: 200 for every caller, signed in or not.
		"GET /api/v1/openapi.json": {path: fixed("/api/v1/openapi.json"), body: none, expect: map[string]int{"*": 200}},
		"GET /api/docs":            {path: fixed("/api/docs"), body: none, expect: map[string]int{"*": 200}},
		"GET /api/v1/me":           {path: fixed("/api/v1/me"), body: none, expect: signedIn(200)},
		"PATCH /api/v1/me":         {path: fixed("/api/v1/me"), body: func(c string, _ caseFixture) any { return map[string]any{"display_name": "Renamed " + c} }, expect: signedIn(200)},
		"GET /api/v1/users":        {path: fixed("/api/v1/users"), body: none, expect: adminOnly(200)},
		"POST /api/v1/users": {path: fixed("/api/v1/users"), body: func(c string, _ caseFixture) any {
			n++
			return map[string]any{"username": fmt.Sprintf("made%d", n), "password": "long enough pw"}
		}, expect: adminOnly(201)},
		"PATCH /api/v1/users/{id}":  {path: func(f caseFixture) string { return fmt.Sprintf("/api/v1/users/%d", f.freshUser) }, body: body(map[string]any{"role": "admin"}), expect: adminOnly(200)},
		"DELETE /api/v1/users/{id}": {path: func(f caseFixture) string { return fmt.Sprintf("/api/v1/users/%d", f.freshUser) }, body: none, expect: adminOnly(204)},
		"GET /api/v1/settings":      {path: fixed("/api/v1/settings"), body: none, expect: adminOnly(200)},
		"PATCH /api/v1/settings":    {path: fixed("/api/v1/settings"), body: body(map[string]any{"guest_access": true}), expect: adminOnly(200)},
		"GET /api/v1/console":       {path: fixed("/api/v1/console"), body: none, expect: adminOnly(200)},
		"GET /api/v1/conversations": {path: fixed("/api/v1/conversations"), body: none, expect: signedIn(200)},
		"POST /api/v1/conversations": {path: fixed("/api/v1/conversations"), body: body(map[string]any{"name": "Mine"}),
			expect: map[string]int{"*": 201, "guest": 403, "disabled": 401, "anon": 401}},
		"GET /api/v1/conversations/{id}":         {path: conv(""), body: none, expect: convRoute(200, 200, 200)},
		"PATCH /api/v1/conversations/{id}":       {path: conv(""), body: body(map[string]any{"locked": true}), expect: convRoute(200, 200, 403)},
		"DELETE /api/v1/conversations/{id}":      {path: conv(""), body: none, expect: convRoute(204, 403, 403)},
		"GET /api/v1/conversations/{id}/members": {path: conv("/members"), body: none, expect: convRoute(200, 200, 200)},
		"POST /api/v1/conversations/{id}/members": {path: conv("/members"), body: func(_ string, f caseFixture) any {
			return map[string]any{"user_id": f.freshUser}
		}, expect: convRoute(201, 201, 403)},
		"DELETE /api/v1/conversations/{id}/members/{user_id}": {path: func(f caseFixture) string {
			return fmt.Sprintf("/api/v1/conversations/%d/members/%d", f.conv, f.extra)
		}, body: none, expect: convRoute(204, 204, 403)},
		"GET /api/v1/conversations/{id}/messages":  {path: conv("/messages"), body: none, expect: convRoute(200, 200, 200)},
		"POST /api/v1/conversations/{id}/messages": {path: conv("/messages"), body: body(map[string]any{"body": "hello"}), expect: convRoute(201, 201, 201)},
		"POST /api/v1/conversations/{id}/read":     {path: conv("/read"), body: body(map[string]any{"seq": 1}), expect: convRoute(204, 204, 204)},
		"DELETE /api/v1/messages/{id}": {path: func(f caseFixture) string { return fmt.Sprintf("/api/v1/messages/%d", f.msg) },
			body: none, expect: convRoute(204, 204, 204)},
		// Moderation: owners in their own conversation, admins everywhere.
		"POST /api/v1/conversations/{id}/mutes": {path: conv("/mutes"), body: func(_ string, f caseFixture) any {
			return map[string]any{"user_id": f.extra, "minutes": 5}
		}, expect: convRoute(201, 201, 403)},
		"GET /api/v1/conversations/{id}/mutes": {path: conv("/mutes"), body: none, expect: convRoute(200, 200, 403)},
		"DELETE /api/v1/conversations/{id}/mutes/{user_id}": {path: func(f caseFixture) string {
			return fmt.Sprintf("/api/v1/conversations/%d/mutes/%d", f.conv, f.extra)
		}, body: none, expect: convRoute(204, 204, 403)},
		"POST /api/v1/messages/{id}/pin": {path: func(f caseFixture) string { return fmt.Sprintf("/api/v1/messages/%d/pin", f.msg) },
			body: none, expect: convRoute(204, 204, 403)},
		"DELETE /api/v1/messages/{id}/pin": {path: func(f caseFixture) string { return fmt.Sprintf("/api/v1/messages/%d/pin", f.msg) },
			body: none, expect: convRoute(204, 204, 403)},
		"GET /api/v1/conversations/{id}/pins": {path: conv("/pins"), body: none, expect: convRoute(200, 200, 200)},
		"POST /api/v1/announcements":          {path: fixed("/api/v1/announcements"), body: body(map[string]any{"body": "Quiz on Friday"}), expect: adminOnly(201)},
		"GET /api/v1/audit":                   {path: fixed("/api/v1/audit?limit=5"), body: none, expect: adminOnly(200)},
		// Exports: participation for admins; transcripts for admins and the conversation's owners.
		"GET /api/v1/participation":                 {path: fixed("/api/v1/participation?format=csv"), body: none, expect: adminOnly(200)},
		"GET /api/v1/conversations/{id}/transcript": {path: conv("/transcript?format=html"), body: none, expect: convRoute(200, 200, 403)},
		// Class sessions and the flagged queue: admins; reports: readers of the conversation.
		"POST /api/v1/sessions": {path: fixed("/api/v1/sessions"), body: func(c string, _ caseFixture) any {
			if c == "admin" {
				endActiveClassSession(t, rs.admin)
			}
			return map[string]any{"name": "Lecture"}
		}, expect: adminOnly(201)},
		"GET /api/v1/sessions": {path: fixed("/api/v1/sessions"), body: none, expect: adminOnly(200)},
		"POST /api/v1/sessions/{id}/end": {path: func(caseFixture) string {
			return fmt.Sprintf("/api/v1/sessions/%d/end", activeClassSession(t, rs.admin))
		}, body: none, expect: adminOnly(200)},
		"GET /api/v1/sessions/{id}/transcript": {path: func(caseFixture) string {
			return fmt.Sprintf("/api/v1/sessions/%d/transcript?format=csv", activeClassSession(t, rs.admin))
		}, body: none, expect: adminOnly(200)},
		"POST /api/v1/messages/{id}/report": {path: func(f caseFixture) string { return fmt.Sprintf("/api/v1/messages/%d/report", f.msg) },
			body: body(map[string]any{"reason": "rude"}), expect: convRoute(201, 201, 201)},
		// Attachments: members upload to their conversations; readers of a message's conversation download.
		"POST /api/v1/attachments": {path: func(f caseFixture) string {
			return fmt.Sprintf("/api/v1/attachments?conversation_id=%d&name=notes.txt", f.conv)
		}, body: body("some notes"), expect: convRoute(201, 201, 201)},
		"GET /api/v1/attachments/{id}": {path: func(f caseFixture) string {
			return fmt.Sprintf("/api/v1/attachments/%d", attachmentFixture(t, rs.clients["member"], f.conv))
		}, body: none, expect: convRoute(200, 200, 200)},
		"GET /api/v1/attachments/{id}/thumbnail": {path: func(f caseFixture) string {
			return fmt.Sprintf("/api/v1/attachments/%d/thumbnail", attachmentFixture(t, rs.clients["member"], f.conv))
		}, body: none, expect: convRoute(200, 200, 200)},
		"GET /api/v1/flags": {path: fixed("/api/v1/flags?status=open"), body: none, expect: adminOnly(200)},
		// Everyday features: the sender edits; readers react, read replies, mute notifications, search.
		"PATCH /api/v1/messages/{id}": {path: msgPath(""), body: body(map[string]any{"body": "edited"}),
			expect: map[string]int{"admin": 403, "owner": 403, "member": 200, "*": 404, "disabled": 401, "anon": 401}},
		"GET /api/v1/messages/{id}/edits":                {path: msgPath("/edits"), body: none, expect: convRoute(200, 403, 403)},
		"PUT /api/v1/messages/{id}/reactions/{emoji}":    {path: msgPath("/reactions/%F0%9F%91%8D"), body: none, expect: convRoute(200, 200, 200)},
		"DELETE /api/v1/messages/{id}/reactions/{emoji}": {path: msgPath("/reactions/%F0%9F%91%8D"), body: none, expect: convRoute(200, 200, 200)},
		"GET /api/v1/messages/{id}/replies":              {path: msgPath("/replies"), body: none, expect: convRoute(200, 200, 200)},
		"GET /api/v1/mentions":                           {path: fixed("/api/v1/mentions"), body: none, expect: signedIn(200)},
		"PUT /api/v1/conversations/{id}/notifications":   {path: conv("/notifications"), body: body(map[string]any{"muted": true}), expect: convRoute(204, 204, 204)},
		"GET /api/v1/search":                             {path: fixed("/api/v1/search?q=hi"), body: none, expect: signedIn(200)},

		"POST /api/v1/flags/{id}/resolve": {path: func(f caseFixture) string {
			return fmt.Sprintf("/api/v1/flags/%d/resolve", reportFixture(t, rs.clients["member"], f.msg))
		}, body: body(map[string]any{"note": "ok"}), expect: adminOnly(200)},
	}
	for _, route := range api.RoutesForTest() {
		e, ok := table[route]
		if !ok {
			t.Errorf("route %s has no row in the authorization matrix", route)
			continue
		}
		method, _, _ := strings.Cut(route, " ")
		for _, who := range callers {
			f := rs.fresh(t)
			c := rs.clients[who]
			if e.public { // a copy with its own cookie jar: a sign-in here must not change the caller
				cp := *c
				cp.HTTP = env.Anon().HTTP
				c = &cp
			}
			r := c.Do(method, e.path(f), e.body(who, f))
			if e.public {
				if r.Status >= 500 || (r.Status >= 400 && r.ErrCode() == "") {
					t.Errorf("%s as %s: %d %s", route, who, r.Status, r.Body)
				}
				continue
			}
			want, ok := e.expect[who]
			if !ok {
				want = e.expect["*"]
			}
			if r.Status != want {
				b := string(r.Body)
				if len(b) > 200 {
					b = b[:200] + "…"
				}
				t.Errorf("%s as %s: %d, want %d: %s", route, who, r.Status, want, b)
			}
		}
	}
}

// TestFrameAuthorizationMatrix: every client frame type × every kind of caller,
// through the same authorization as REST.
func TestFrameAuthorizationMatrix(t *testing.T) {
	env := servertest.Start(t)
	admin := env.AddUser("prof", "admin")
	owner := env.AddUser("owner", "user")
	member := env.AddUser("member", "user")
	outsider := env.AddUser("outsider", "user")
	removed := env.AddUser("removed", "user")
	disabled := env.AddUser("disabled", "user")
	code := admin.Must(200, "GET", "/api/v1/settings", nil).JSON()["join_code"].(string)
	guest := env.Anon()
	guest.Token = guest.Must(201, "POST", "/api/v1/auth/guest", map[string]any{"display_name": "G", "join_code": code}).JSON()["access_token"].(string)
	conv := int64(owner.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Team",
		"member_ids": []int64{member.ID(), removed.ID()}}).JSON()["id"].(float64))
	owner.Must(204, "DELETE", fmt.Sprintf("/api/v1/conversations/%d/members/%d", conv, removed.ID()), nil)
	admin.Must(204, "DELETE", fmt.Sprintf("/api/v1/users/%d", disabled.ID()), nil)
	if _, res, err := env.Dial(map[string][]string{"Authorization": {"Bearer " + disabled.Token}}); err == nil || res.StatusCode != 401 {
		t.Fatalf("disabled account opened a socket (err %v)", err)
	}
	allowed := map[string]bool{"admin": true, "owner": true, "member": true}
	clients := map[string]*servertest.Client{"admin": admin, "owner": owner, "member": member, "outsider": outsider, "removed": removed, "guest": guest}
	for who, c := range clients {
		ws := c.DialWS()
		frames := []map[string]any{
			{"type": "subscribe", "conversation_id": conv, "after_seq": 0},
			{"type": "send", "conversation_id": conv, "client_id": "m-" + who, "body": "from " + who},
			{"type": "typing", "conversation_id": conv},
			{"type": "read", "conversation_id": conv, "seq": 1},
		}
		for _, f := range frames {
			ws.Send(f)
			// Sends are answered after the commit (ack or error with the client_id);
			// other frames are followed by a probe whose answer proves nothing else came in between.
			isSend := f["type"] == "send"
			if !isSend {
				ws.Send(map[string]any{"type": "unsubscribe", "conversation_id": 999999})
			}
			var got []string
			for {
				fr := ws.Next()
				if !isSend && fr.Type() == "unsubscribed" && fr.Int("conversation_id") == 999999 {
					break
				}
				if isSend && fr["client_id"] == "m-"+who {
					got = append(got, fr.Type()+":"+fmt.Sprint(fr["code"]))
					break
				}
				if fr.Type() == "presence" || fr.Type() == "activity" || fr.Type() == "message" {
					if fr.Type() == "message" && !allowed[who] {
						t.Fatalf("%s received a message of a conversation it is not in: %v", who, fr)
					}
					continue
				}
				got = append(got, fr.Type()+":"+fmt.Sprint(fr["code"]))
			}
			var want []string
			switch {
			case !allowed[who]:
				want = []string{"error:not_found"}
			case f["type"] == "subscribe":
				want = []string{"subscribed:<nil>"}
			case f["type"] == "send":
				want = []string{"ack:<nil>"}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s %s: got %v, want %v", who, f["type"], got, want)
			}
		}
		ws.Close()
	}
	page := owner.Must(200, "GET", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), nil)
	for _, who := range []string{"outsider", "removed", "guest"} {
		if strings.Contains(string(page.Body), "from "+who) {
			t.Errorf("a message from %s was stored", who)
		}
	}
}

// TestAuthorizationMatrixUnderClassPolicies: the rows whose answer depends on
// a class setting, each caller under that setting (reset after the row).
func TestAuthorizationMatrixUnderClassPolicies(t *testing.T) {
	env := servertest.Start(t)
	rs := &roleSet{env: env, clients: map[string]*servertest.Client{}}
	rs.admin = env.AddUser("prof", "admin")
	rs.clients["admin"] = rs.admin
	for _, n := range []string{"owner", "member", "nonmember", "removed", "disabled"} {
		rs.clients[n] = env.AddUser(n+"x", "user")
	}
	rs.ownerID, rs.memberID, rs.removedID = rs.clients["owner"].ID(), rs.clients["member"].ID(), rs.clients["removed"].ID()
	code := rs.admin.Must(200, "GET", "/api/v1/settings", nil).JSON()["join_code"].(string)
	g := env.Anon()
	g.Token = g.Must(201, "POST", "/api/v1/auth/guest", map[string]any{"display_name": "Guest", "join_code": code}).JSON()["access_token"].(string)
	rs.clients["guest"] = g
	rs.clients["anon"] = env.Anon()
	rs.admin.Must(204, "DELETE", fmt.Sprintf("/api/v1/users/%d", rs.clients["disabled"].ID()), nil)

	rows := []struct {
		name     string
		settings map[string]any // applied before the row, set back to the defaults after
		method   string
		path     func(f caseFixture) string
		body     func(f caseFixture) any
		pair     bool // the fixture group loses "extra": owner and member are a pair of students
		solo     bool // the fixture group loses "extra" and "member": the owner is alone
		expect   map[string]int
	}{
		{name: "group_policy staff: create a group", settings: map[string]any{"group_policy": "staff"},
			method: "POST", path: func(caseFixture) string { return "/api/v1/conversations" },
			body:   func(caseFixture) any { return map[string]any{"name": "Mine"} },
			expect: map[string]int{"admin": 201, "*": 403, "disabled": 401, "anon": 401}},
		{name: "dm_policy none: create a group of two", settings: map[string]any{"dm_policy": "none"},
			method: "POST", path: func(caseFixture) string { return "/api/v1/conversations" },
			body:   func(f caseFixture) any { return map[string]any{"name": "Pair", "member_ids": []int64{f.freshUser}} },
			expect: map[string]int{"admin": 201, "*": 403, "disabled": 401, "anon": 401}},
		{name: "dm_policy none: post in a group of two", settings: map[string]any{"dm_policy": "none"}, pair: true,
			method: "POST", path: func(f caseFixture) string { return fmt.Sprintf("/api/v1/conversations/%d/messages", f.conv) },
			body:   func(caseFixture) any { return map[string]any{"body": "just us"} },
			expect: map[string]int{"admin": 201, "owner": 403, "member": 403, "*": 404, "disabled": 401, "anon": 401}},
		{name: "dm_policy staff: add a third to a pair", settings: map[string]any{"dm_policy": "staff"}, pair: true,
			method: "POST", path: func(f caseFixture) string { return fmt.Sprintf("/api/v1/conversations/%d/members", f.conv) },
			body:   func(f caseFixture) any { return map[string]any{"user_id": f.freshUser} },
			expect: map[string]int{"admin": 201, "owner": 201, "member": 403, "*": 404, "disabled": 401, "anon": 401}},
		{name: "dm_policy staff: add the one who makes a pair", settings: map[string]any{"dm_policy": "staff"}, solo: true,
			method: "POST", path: func(f caseFixture) string { return fmt.Sprintf("/api/v1/conversations/%d/members", f.conv) },
			body:   func(f caseFixture) any { return map[string]any{"user_id": f.freshUser} },
			expect: map[string]int{"admin": 201, "owner": 403, "*": 404, "disabled": 401, "anon": 401}},
	}
	defaults := map[string]any{"group_policy": "anyone", "dm_policy": "anyone"}
	for _, row := range rows {
		for _, who := range callers {
			f := rs.fresh(t)
			if row.pair || row.solo {
				rs.clients["owner"].Must(204, "DELETE", fmt.Sprintf("/api/v1/conversations/%d/members/%d", f.conv, f.extra), nil)
			}
			if row.solo {
				rs.clients["owner"].Must(204, "DELETE", fmt.Sprintf("/api/v1/conversations/%d/members/%d", f.conv, rs.memberID), nil)
			}
			rs.admin.Must(200, "PATCH", "/api/v1/settings", row.settings)
			r := rs.clients[who].Do(row.method, row.path(f), row.body(f))
			rs.admin.Must(200, "PATCH", "/api/v1/settings", defaults)
			want, ok := row.expect[who]
			if !ok {
				want = row.expect["*"]
			}
			if r.Status != want {
				t.Errorf("%s as %s: %d, want %d: %s", row.name, who, r.Status, want, r.Body)
			}
		}
	}
}
