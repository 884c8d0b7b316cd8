package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"teamchat/server/api"
	"teamchat/server/servertest"
)

// fixture: an admin, a member who owns a group, a member, an outsider, a guest.
type fixture struct {
	env                            *servertest.Env
	admin, owner, member, outsider *servertest.Client
	guest, anon                    *servertest.Client
	group, general                 int64
	ownerID, memberID, outsiderID  int64
	memberMsg, ownerMsg            int64
}

func setup(t *testing.T) *fixture {
	env := servertest.Start(t)
	f := &fixture{env: env, general: 1}
	f.admin = env.AddUser("prof", "admin")
	f.owner = env.AddUser("olivia", "user")
	f.member = env.AddUser("max", "user")
	f.outsider = env.AddUser("otto", "user")
	f.anon = env.Anon()
	f.ownerID, f.memberID, f.outsiderID = f.owner.ID(), f.member.ID(), f.outsider.ID()
	r := f.owner.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Group A", "member_ids": []int64{f.memberID}})
	f.group = int64(r.JSON()["id"].(float64))
	r = f.member.Must(201, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", f.group), map[string]any{"body": "hello", "client_id": "m1"})
	f.memberMsg = int64(r.JSON()["id"].(float64))
	r = f.owner.Must(201, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", f.group), map[string]any{"body": "owner says"})
	f.ownerMsg = int64(r.JSON()["id"].(float64))
	code := f.admin.Must(200, "GET", "/api/v1/settings", nil).JSON()["join_code"].(string)
	g := env.Anon()
	r = g.Must(201, "POST", "/api/v1/auth/guest", map[string]any{"display_name": "Gus", "join_code": code})
	g.Token = r.JSON()["access_token"].(string)
	f.guest = g
	return f
}

func TestScenarios(t *testing.T) {
	f := setup(t)
	g := fmt.Sprintf("/api/v1/conversations/%d", f.group)
	type sc struct {
		name   string
		who    *servertest.Client
		method string
		path   string
		body   any
		status int
		code   string // error code, or text the body must contain
	}
	big := `{"body":"` + strings.Repeat("x", 70<<10) + `"}`
	cases := []sc{
		{"info needs nobody", f.anon, "GET", "/api/v1/info", nil, 200, "registration"},
		{"info never leaks the join code", f.anon, "GET", "/api/v1/info", nil, 200, "guest_access"},
		{"me without credentials", f.anon, "GET", "/api/v1/me", nil, 401, "unauthorized"},
		{"me", f.member, "GET", "/api/v1/me", nil, 200, `"username":"max"`},
		{"users: students may not list", f.member, "GET", "/api/v1/users", nil, 403, "forbidden"},
		{"users: guests may not list", f.guest, "GET", "/api/v1/users", nil, 403, "forbidden"},
		{"users: admin lists", f.admin, "GET", "/api/v1/users?q=ott", nil, 200, `"otto"`},
		{"users: admin creates", f.admin, "POST", "/api/v1/users", map[string]any{"username": "newbie", "password": "long enough pw", "role": "user"}, 201, `"newbie"`},
		{"users: taken username", f.admin, "POST", "/api/v1/users", map[string]any{"username": "MAX", "password": "long enough pw", "role": "user"}, 409, "conflict"},
		{"users: bad username", f.admin, "POST", "/api/v1/users", map[string]any{"username": "a b", "password": "long enough pw"}, 400, "bad_request"},
		{"users: bcrypt 72-byte limit", f.admin, "POST", "/api/v1/users", map[string]any{"username": "longpw", "password": strings.Repeat("a", 73)}, 400, "72 bytes"},
		{"users: 76-byte emoji password", f.admin, "POST", "/api/v1/users", map[string]any{"username": "emoji", "password": strings.Repeat("😀", 19)}, 400, "72 bytes"},
		{"users: 72 bytes is fine", f.admin, "POST", "/api/v1/users", map[string]any{"username": "pw72", "password": strings.Repeat("a", 72)}, 201, "pw72"},
		{"users: student cannot patch", f.member, "PATCH", fmt.Sprintf("/api/v1/users/%d", f.outsiderID), map[string]any{"disabled": true}, 403, "forbidden"},
		{"users: unknown id", f.admin, "PATCH", "/api/v1/users/99999", map[string]any{"display_name": "x"}, 404, "not_found"},
		{"users: non-numeric id", f.admin, "PATCH", "/api/v1/users/abc", map[string]any{"display_name": "x"}, 404, "not_found"},
		{"settings: student", f.member, "GET", "/api/v1/settings", nil, 403, "forbidden"},
		{"settings: bad registration", f.admin, "PATCH", "/api/v1/settings", map[string]any{"registration": "maybe"}, 400, "bad_request"},
		{"console: admin", f.admin, "GET", "/api/v1/console", nil, 200, "join_urls"},
		{"console: student", f.member, "GET", "/api/v1/console", nil, 403, "forbidden"},
		{"conversations: member sees group", f.member, "GET", "/api/v1/conversations", nil, 200, "Group A"},
		{"conversations: guest cannot create", f.guest, "POST", "/api/v1/conversations", map[string]any{"name": "x"}, 403, "forbidden"},
		{"conversations: empty name", f.member, "POST", "/api/v1/conversations", map[string]any{"name": "  "}, 400, "bad_request"},
		{"conversations: bad kind", f.member, "POST", "/api/v1/conversations", map[string]any{"name": "x", "kind": "channel"}, 400, "bad_request"},
		{"conversation: member reads", f.member, "GET", g, nil, 200, "members"},
		{"conversation: outsider gets 404", f.outsider, "GET", g, nil, 404, "not_found"},
		{"conversation: guest gets 404", f.guest, "GET", g, nil, 404, "not_found"},
		{"conversation: admin oversees", f.admin, "GET", g, nil, 200, "Group A"},
		{"conversation: unknown", f.member, "GET", "/api/v1/conversations/424242", nil, 404, "not_found"},
		{"members: outsider gets 404", f.outsider, "GET", g + "/members", nil, 404, "not_found"},
		{"members: member cannot add", f.member, "POST", g + "/members", map[string]any{"user_id": f.outsiderID}, 403, "forbidden"},
		{"members: outsider cannot add self", f.outsider, "POST", g + "/members", map[string]any{"user_id": f.outsiderID}, 404, "not_found"},
		{"members: outsider cannot remove", f.outsider, "DELETE", fmt.Sprintf("%s/members/%d", g, f.memberID), nil, 404, "not_found"},
		{"members: member cannot remove others", f.member, "DELETE", fmt.Sprintf("%s/members/%d", g, f.ownerID), nil, 403, "forbidden"},
		{"messages: outsider gets 404", f.outsider, "GET", g + "/messages", nil, 404, "not_found"},
		{"messages: outsider paging gets 404", f.outsider, "GET", g + "/messages?before_seq=5", nil, 404, "not_found"},
		{"messages: member reads", f.member, "GET", g + "/messages?after_seq=0", nil, 200, `"has_more":false`},
		{"messages: limit 0", f.member, "GET", g + "/messages?limit=0", nil, 400, "bad_request"},
		{"messages: limit 201", f.member, "GET", g + "/messages?limit=201", nil, 400, "bad_request"},
		{"messages: limit not a number", f.member, "GET", g + "/messages?limit=ten", nil, 400, "bad_request"},
		{"messages: both directions", f.member, "GET", g + "/messages?after_seq=1&before_seq=3", nil, 400, "bad_request"},
		{"post: outsider gets 404", f.outsider, "POST", g + "/messages", map[string]any{"body": "x"}, 404, "not_found"},
		{"post: empty body", f.member, "POST", g + "/messages", map[string]any{"body": "   "}, 400, "bad_request"},
		{"post: too long", f.member, "POST", g + "/messages", map[string]any{"body": strings.Repeat("é", 4001)}, 400, "4000"},
		{"post: 4000 characters ok", f.member, "POST", g + "/messages", map[string]any{"body": strings.Repeat("é", 4000)}, 201, "seq"},
		{"post: NUL", f.member, "POST", g + "/messages", `{"body":"a\u0000b"}`, 400, "NUL"},
		{"post: invalid UTF-8", f.member, "POST", g + "/messages", []byte("{\"body\":\"\xc3\x28\"}"), 400, "UTF-8"},
		{"post: unknown field", f.member, "POST", g + "/messages", `{"body":"x","admin":true}`, 400, "unknown field"},
		{"post: case-variant field", f.member, "POST", g + "/messages", `{"Body":"x"}`, 400, "unknown field"},
		{"post: duplicate field", f.member, "POST", g + "/messages", `{"body":"x","body":"y"}`, 400, "duplicate"},
		{"post: truncated JSON", f.member, "POST", g + "/messages", `{"body":"x"`, 400, "bad_request"},
		{"post: trailing garbage", f.member, "POST", g + "/messages", `{"body":"x"}xyz`, 400, "bad_request"},
		{"post: wrong type", f.member, "POST", g + "/messages", `{"body":5}`, 400, "bad_request"},
		{"post: not an object", f.member, "POST", g + "/messages", `[1,2]`, 400, "bad_request"},
		{"post: deep nesting", f.member, "POST", g + "/messages", strings.Repeat("[", 100000), 413, "too_large"},
		{"post: empty request body", f.member, "POST", g + "/messages", "", 400, "bad_request"},
		{"post: body over 64 KiB", f.member, "POST", g + "/messages", big, 413, "too_large"},
		{"post: bad client_id", f.member, "POST", g + "/messages", map[string]any{"body": "x", "client_id": strings.Repeat("c", 65)}, 400, "client_id"},
		{"post: reuse client_id, other body", f.member, "POST", g + "/messages", map[string]any{"body": "other", "client_id": "m1"}, 409, "conflict"},
		{"post: reuse client_id, same body", f.member, "POST", g + "/messages", map[string]any{"body": "hello", "client_id": "m1"}, 200, `"seq":1`},
		{"post: same client_id, other user", f.owner, "POST", g + "/messages", map[string]any{"body": "hello", "client_id": "m1"}, 201, `"olivia"`},
		{"read: outsider", f.outsider, "POST", g + "/read", map[string]any{"seq": 1}, 404, "not_found"},
		{"read: member", f.member, "POST", g + "/read", map[string]any{"seq": 1}, 204, ""},
		{"delete message: outsider", f.outsider, "DELETE", fmt.Sprintf("/api/v1/messages/%d", f.memberMsg), nil, 404, "not_found"},
		{"escalation: role in PATCH /me", f.member, "PATCH", "/api/v1/me", `{"role":"admin"}`, 400, "unknown field"},
		{"escalation: case-variant Role", f.member, "PATCH", "/api/v1/me", `{"Role":"admin"}`, 400, "unknown field"},
		{"escalation: guest invites", f.guest, "POST", g + "/members", map[string]any{"user_id": f.outsiderID}, 404, "not_found"},
		{"escalation: guest starts a DM", f.guest, "POST", "/api/v1/conversations", map[string]any{"kind": "direct", "member_ids": []int64{f.memberID}}, 403, "forbidden"},
		{"delete someone else's message: member", f.member, "DELETE", fmt.Sprintf("/api/v1/messages/%d", f.ownerMsg), nil, 403, "forbidden"},
		{"delete message: unknown", f.member, "DELETE", "/api/v1/messages/999999", nil, 404, "not_found"},
		{"patch conversation: member", f.member, "PATCH", g, map[string]any{"name": "Renamed"}, 403, "forbidden"},
		{"patch conversation: owner cannot auto_join", f.owner, "PATCH", g, map[string]any{"auto_join": true}, 403, "forbidden"},
		{"patch conversation: owner renames", f.owner, "PATCH", g, map[string]any{"name": "Group A"}, 200, "Group A"},
		{"delete conversation: owner", f.owner, "DELETE", g, nil, 403, "forbidden"},
		{"unknown API path", f.anon, "GET", "/api/v1/nope", nil, 404, "not_found"},
		{"unknown API path signed in", f.member, "GET", "/api/v2/conversations", nil, 404, "not_found"},
		{"wrong method", f.member, "PUT", "/api/v1/me", `{}`, 405, "method_not_allowed"},
		{"no state change via GET", f.member, "GET", "/api/v1/auth/revoke", nil, 405, "method_not_allowed"},
		{"register: wrong code", f.anon, "POST", "/api/v1/auth/register", map[string]any{"username": "eve", "password": "long enough pw", "display_name": "Eve", "join_code": "WRONG1"}, 403, "forbidden"},
		{"guest: wrong code", f.anon, "POST", "/api/v1/auth/guest", map[string]any{"display_name": "Eve", "join_code": "WRONG1"}, 403, "forbidden"},
		{"guest cannot set a password", f.guest, "PATCH", "/api/v1/me", map[string]any{"password": "long enough pw", "current_password": "x"}, 403, "forbidden"},
		{"password change needs the current one", f.member, "PATCH", "/api/v1/me", map[string]any{"password": "long enough pw"}, 400, "current_password"},
		{"bad bearer scheme", &servertest.Client{Env: f.env, HTTP: http.DefaultClient, Header: http.Header{"Authorization": {"Basic eDp5"}}}, "GET", "/api/v1/me", nil, 401, "unauthorized"},
		{"huge bearer token", &servertest.Client{Env: f.env, HTTP: http.DefaultClient, Token: strings.Repeat(".", 8000)}, "GET", "/api/v1/me", nil, 401, "unauthorized"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.who.Do(c.method, c.path, c.body)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if c.status >= 400 {
				if r.ErrCode() == "" {
					t.Fatalf("no error envelope: %s", r.Body)
				}
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Fatalf("content type %q", ct)
				}
			}
			if c.code != "" && !strings.Contains(string(r.Body), c.code) {
				t.Fatalf("body %s does not contain %q", r.Body, c.code)
			}
			if strings.Contains(string(r.Body), "password_hash") || strings.Contains(string(r.Body), "$2a$") {
				t.Fatalf("answer leaks a password hash: %s", r.Body)
			}
		})
	}
	// Nothing above lost or changed the stored message.
	r := f.member.Must(200, "GET", g+"/messages?after_seq=0", nil)
	var page struct {
		Messages []struct {
			Seq  int64
			Body string
		}
	}
	r.Decode(t, &page)
	if len(page.Messages) == 0 || page.Messages[0].Body != "hello" || page.Messages[0].Seq != 1 {
		t.Fatalf("first message changed: %s", r.Body)
	}
	for i, m := range page.Messages {
		if m.Seq != int64(i+1) {
			t.Fatalf("seqs not contiguous: %s", r.Body)
		}
	}
	if strings.Contains(string(f.anon.Must(200, "GET", "/api/v1/info", nil).Body), "join_code") {
		t.Fatal("info leaks the join code")
	}
}

// TestEveryRouteIsGuarded calls every route of the router without credentials:
// apart from the public ones, each must answer 401 (a new route cannot slip by).
func TestEveryRouteIsGuarded(t *testing.T) {
	env := servertest.Start(t)
	anon := env.Anon()
	public := map[string]bool{
		"GET /api/v1/info": true, "POST /api/v1/session": true, "POST /api/v1/session/ticket": true,
		"POST /api/v1/auth/token": true, "POST /api/v1/auth/refresh": true, "POST /api/v1/auth/revoke": true,
		"POST /api/v1/auth/register": true, "POST /api/v1/auth/guest": true, "GET /api/v1/ws": true,
		"GET /healthz": true, "GET /api/v1/openapi.json": true, "GET /api/docs": true,
	}
	for _, route := range api.RoutesForTest() {
		method, path, _ := strings.Cut(route, " ")
		path = strings.NewReplacer("{id}", "1", "{user_id}", "1").Replace(path)
		r := anon.Do(method, path, `{}`)
		if public[route] {
			// Reachable without credentials; bad input still gets an envelope, never a 5xx.
			if r.Status >= 500 || (r.Status >= 400 && r.ErrCode() == "") {
				t.Errorf("%s: %d %s", route, r.Status, r.Body)
			}
			continue
		}
		if r.Status != 401 || r.ErrCode() != "unauthorized" {
			t.Errorf("%s without credentials: %d %s", route, r.Status, r.Body)
		}
	}
}
