package api_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"teamchat/server/servertest"
)

func TestCSRFOnCookieSessions(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	s := env.Session("prof")
	csrf := s.CSRF

	// GET /session answers the same user and token.
	if got := s.Must(200, "GET", "/api/v1/session", nil).JSON()["csrf_token"]; got != csrf {
		t.Fatalf("GET /session csrf %v, want %v", got, csrf)
	}
	// An unsafe request without the header is refused, and nothing is stored.
	s.CSRF = ""
	r := s.Do("POST", "/api/v1/conversations/1/messages", map[string]any{"body": "no token"})
	if r.Status != 403 || r.ErrCode() != "forbidden" {
		t.Fatalf("without X-CSRF-Token: %d %s", r.Status, r.Body)
	}
	// A cross-site form post (urlencoded, text/plain) cannot carry the header either.
	for _, ct := range []string{"application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"} {
		s.Header = http.Header{"Content-Type": {ct}, "Origin": {"http://evil.example"}}
		for _, path := range []string{"/api/v1/conversations", "/api/v1/users", "/api/v1/settings", "/api/v1/session"} {
			method := "POST"
			if path == "/api/v1/settings" {
				method = "PATCH"
			}
			if path == "/api/v1/session" {
				method = "DELETE"
			}
			if r := s.Do(method, path, "name=x"); r.Status != 403 {
				t.Fatalf("cross-site %s %s (%s): %d %s", method, path, ct, r.Status, r.Body)
			}
		}
	}
	s.Header = http.Header{}
	s.CSRF = "wrong" + csrf
	if r := s.Do("POST", "/api/v1/conversations/1/messages", map[string]any{"body": "bad token"}); r.Status != 403 {
		t.Fatalf("wrong token: %d", r.Status)
	}
	s.CSRF = csrf
	s.Must(201, "POST", "/api/v1/conversations/1/messages", map[string]any{"body": "with token"})
	page := s.Must(200, "GET", "/api/v1/conversations/1/messages", nil)
	if strings.Contains(string(page.Body), "no token") || strings.Contains(string(page.Body), "bad token") {
		t.Fatalf("a refused message was stored: %s", page.Body)
	}
	// The cookie is HttpOnly and SameSite=Lax.
	raw := env.Anon().Must(200, "POST", "/api/v1/session", map[string]any{"username": "prof", "password": servertest.Password}).Header.Get("Set-Cookie")
	if !strings.Contains(raw, "HttpOnly") || !strings.Contains(raw, "SameSite=Lax") {
		t.Fatalf("cookie flags: %s", raw)
	}
	// Logout ends the session.
	s.Must(204, "DELETE", "/api/v1/session", nil)
	if r := s.Do("GET", "/api/v1/me", nil); r.Status != 401 {
		t.Fatalf("after logout: %d", r.Status)
	}
}

func TestSessionModeOnRegisterAndGuest(t *testing.T) {
	env := servertest.Start(t)
	admin := env.AddUser("prof", "admin")
	code := admin.Must(200, "GET", "/api/v1/settings", nil).JSON()["join_code"].(string)
	c := env.Anon()
	r := c.Must(201, "POST", "/api/v1/auth/register", map[string]any{"username": "stu", "password": "long enough pw", "display_name": "Stu", "join_code": strings.ToLower(code), "session": true})
	if r.JSON()["csrf_token"] == nil || r.JSON()["access_token"] != nil {
		t.Fatalf("session register answer: %s", r.Body)
	}
	if me := c.Must(200, "GET", "/api/v1/me", nil).JSON(); me["role"] != "user" {
		t.Fatalf("me: %v", me)
	}
	// A new account is a member of General (auto_join).
	convs := c.Must(200, "GET", "/api/v1/conversations", nil)
	if !strings.Contains(string(convs.Body), `"General"`) {
		t.Fatalf("not in General: %s", convs.Body)
	}
	g := env.Anon()
	r = g.Must(201, "POST", "/api/v1/auth/guest", map[string]any{"display_name": "Gia\u200b\u202e", "join_code": code, "session": true})
	if u := r.JSON()["user"].(map[string]any); u["role"] != "guest" || u["display_name"] != "Gia" {
		t.Fatalf("guest: %v", u)
	}
	// Closed registration and guest access off are refused.
	admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"registration": "closed", "guest_access": false})
	env.Anon().Must(403, "POST", "/api/v1/auth/register", map[string]any{"username": "stu2", "password": "long enough pw", "display_name": "S", "join_code": code})
	env.Anon().Must(403, "POST", "/api/v1/auth/guest", map[string]any{"display_name": "G", "join_code": code})
	// Rotating the code invalidates the old one.
	admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"registration": "code", "guest_access": true})
	newCode := admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"rotate_join_code": true}).JSON()["join_code"].(string)
	if newCode == code {
		t.Fatal("rotate kept the code")
	}
	env.Anon().Must(403, "POST", "/api/v1/auth/guest", map[string]any{"display_name": "G", "join_code": code})
	env.Anon().Must(201, "POST", "/api/v1/auth/guest", map[string]any{"display_name": "G", "join_code": newCode})
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWTForgeryIsRefused(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	stu := env.AddUser("stu", "user")
	id := stu.ID()
	secret, err := os.ReadFile(filepath.Join(env.DataDir, "jwt.key"))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(env.DataDir, "jwt.key")); st.Mode().Perm() != 0o600 {
		t.Fatalf("jwt.key mode %v", st.Mode().Perm())
	}
	// Learn the issuer and audience from a real token.
	var real jwt.MapClaims
	parts := strings.Split(stu.Token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(payload, &real)
	now := time.Now()
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": real["sub"], "role": "user", "typ": "access", "iss": real["iss"], "aud": real["aud"],
			"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "jti": "forged"}
	}
	// Control: a token signed with the real key and claims works, so the refusals below are meaningful.
	ok := sign(t, jwt.SigningMethodHS256, secret, base())
	c := env.Anon()
	c.Token = ok
	c.Must(200, "GET", "/api/v1/me", nil)

	noneTok := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		b, _ := json.Marshal(base())
		return h + "." + base64.RawURLEncoding.EncodeToString(b) + "."
	}()
	tampered := func() string { // role flipped to admin, old signature kept
		p := strings.Split(ok, ".")
		cl := base()
		cl["role"] = "admin"
		cl["sub"] = "1"
		b, _ := json.Marshal(cl)
		return p[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + p[2]
	}()
	with := func(k string, v any) jwt.MapClaims { c := base(); c[k] = v; return c }
	without := func(k string) jwt.MapClaims { c := base(); delete(c, k); return c }
	cases := map[string]string{
		"alg none":          noneTok,
		"wrong key":         sign(t, jwt.SigningMethodHS256, []byte("0123456789abcdef0123456789abcdef"), base()),
		"HS512 same key":    sign(t, jwt.SigningMethodHS512, secret, base()),
		"tampered claims":   tampered,
		"expired":           sign(t, jwt.SigningMethodHS256, secret, with("exp", now.Add(-2*time.Minute).Unix())),
		"no exp":            sign(t, jwt.SigningMethodHS256, secret, without("exp")),
		"future iat":        sign(t, jwt.SigningMethodHS256, secret, with("iat", now.Add(time.Hour).Unix())),
		"refresh as access": sign(t, jwt.SigningMethodHS256, secret, with("typ", "refresh")),
		"wrong audience":    sign(t, jwt.SigningMethodHS256, secret, with("aud", "teamchat-refresh")),
		"wrong issuer":      sign(t, jwt.SigningMethodHS256, secret, with("iss", "elsewhere")),
		"unknown user":      sign(t, jwt.SigningMethodHS256, secret, with("sub", "9999")),
		"garbage":           "abc.def.ghi",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			c := env.Anon()
			c.Token = tok
			if r := c.Do("GET", "/api/v1/me", nil); r.Status != 401 || r.ErrCode() != "unauthorized" {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			h := http.Header{"Authorization": {"Bearer " + tok}}
			if _, res, err := env.Dial(h); err == nil || res == nil || res.StatusCode != 401 {
				t.Fatalf("websocket accepted a forged token (err %v)", err)
			}
		})
	}
	// The real refresh token is refused as an access token, and the access token as a refresh token.
	pair := env.Anon().Must(200, "POST", "/api/v1/auth/token", map[string]any{"username": "stu", "password": servertest.Password}).JSON()
	rc := env.Anon()
	rc.Token = pair["refresh_token"].(string)
	rc.Must(401, "GET", "/api/v1/me", nil)
	env.Anon().Must(401, "POST", "/api/v1/auth/refresh", map[string]any{"refresh_token": pair["access_token"]})
	_ = id
}

func TestRefreshRotationAndReuse(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("stu", "user")
	admin := env.AddUser("prof", "admin")
	login := env.Anon().Must(200, "POST", "/api/v1/auth/token", map[string]any{"username": "stu", "password": servertest.Password}).JSON()
	if login["token_type"] != "Bearer" || login["expires_in"].(float64) != 3600 {
		t.Fatalf("token answer: %v", login)
	}
	r1 := login["refresh_token"].(string)
	p2 := env.Anon().Must(200, "POST", "/api/v1/auth/refresh", map[string]any{"refresh_token": r1}).JSON()
	r2 := p2["refresh_token"].(string)
	c := env.Anon()
	c.Token = p2["access_token"].(string)
	c.Must(200, "GET", "/api/v1/me", nil)
	// A browser session of the same account, to see that it outlives the reuse.
	sess := env.Session("stu")
	// R1 again: refused, and R2 (same family) dies with it, and so does the
	// access token issued with R2 (it may be the thief's), at once.
	env.Anon().Must(401, "POST", "/api/v1/auth/refresh", map[string]any{"refresh_token": r1})
	c.Must(401, "GET", "/api/v1/me", nil)
	env.Anon().Must(401, "POST", "/api/v1/auth/refresh", map[string]any{"refresh_token": r2})
	sess.Must(200, "GET", "/api/v1/me", nil)
	// The reuse is in the audit log; the actor is the system (null). R2 was
	// refused by the account's new token epoch before the store saw it.
	entries := admin.Must(200, "GET", "/api/v1/audit?action=token.reuse", nil).JSON()["entries"].([]any)
	if len(entries) != 1 || entries[0].(map[string]any)["actor"] != nil || entries[0].(map[string]any)["details"].(map[string]any)["username"] != "stu" {
		t.Errorf("audit entries for the reuse: %v", entries)
	}
	// A second login is a separate family and still works.
	other := env.Anon().Must(200, "POST", "/api/v1/auth/token", map[string]any{"username": "stu", "password": servertest.Password}).JSON()
	p3 := env.Anon().Must(200, "POST", "/api/v1/auth/refresh", map[string]any{"refresh_token": other["refresh_token"]}).JSON()
	// Revoke ends it.
	env.Anon().Must(204, "POST", "/api/v1/auth/revoke", map[string]any{"refresh_token": p3["refresh_token"]})
	env.Anon().Must(401, "POST", "/api/v1/auth/refresh", map[string]any{"refresh_token": p3["refresh_token"]})

	// Two tabs refresh the same token at once: exactly one wins.
	fresh := env.Anon().Must(200, "POST", "/api/v1/auth/token", map[string]any{"username": "stu", "password": servertest.Password}).JSON()["refresh_token"]
	results := make(chan int, 2)
	for range 2 {
		go func() {
			results <- env.Anon().Do("POST", "/api/v1/auth/refresh", map[string]any{"refresh_token": fresh}).Status
		}()
	}
	a, b := <-results, <-results
	if a+b != 200+401 {
		t.Fatalf("concurrent refresh answered %d and %d, want one 200 and one 401", a, b)
	}
}

func TestLoginRateLimitAndEnumeration(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("stu", "user")
	wrong := env.Anon().Do("POST", "/api/v1/auth/token", map[string]any{"username": "stu", "password": "not the password"})
	unknown := env.Anon().Do("POST", "/api/v1/auth/token", map[string]any{"username": "nobody", "password": "not the password"})
	if wrong.Status != 401 || unknown.Status != 401 || string(wrong.Body) != string(unknown.Body) {
		t.Fatalf("unknown user and wrong password differ: %d %s / %d %s", wrong.Status, wrong.Body, unknown.Status, unknown.Body)
	}
	// Five failures for one username from one address (server/api/signin_test.go has the rest).
	for i := 0; i < 4; i++ {
		env.Anon().Must(401, "POST", "/api/v1/session", map[string]any{"username": "stu", "password": "still wrong"})
	}
	r := env.Anon().Do("POST", "/api/v1/auth/token", map[string]any{"username": "stu", "password": "wrong again"})
	if r.Status != 429 || r.ErrCode() != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("6th failure: %d %s (Retry-After %q)", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	// During the lockout even the right password is refused (no oracle).
	env.Anon().Must(429, "POST", "/api/v1/auth/token", map[string]any{"username": "stu", "password": servertest.Password})
}

func TestDisablingAUserCutsEverything(t *testing.T) {
	env := servertest.Start(t)
	admin := env.AddUser("prof", "admin")
	stu := env.AddUser("stu", "user")
	id := stu.ID()
	sess := env.Session("stu")
	refresh := env.Anon().Must(200, "POST", "/api/v1/auth/token", map[string]any{"username": "stu", "password": servertest.Password}).JSON()["refresh_token"]
	ws := stu.DialWS()
	admin.Must(204, "DELETE", "/api/v1/users/"+itoa(id), nil)
	if code := ws.WaitClose(); code != 4401 {
		t.Fatalf("socket closed with %d, want 4401", code)
	}
	stu.Must(401, "GET", "/api/v1/me", nil)
	sess.Must(401, "GET", "/api/v1/me", nil)
	env.Anon().Must(401, "POST", "/api/v1/auth/refresh", map[string]any{"refresh_token": refresh})
	env.Anon().Must(401, "POST", "/api/v1/auth/token", map[string]any{"username": "stu", "password": servertest.Password})
	// Messages stay; the account shows as disabled.
	users := admin.Must(200, "GET", "/api/v1/users?q=stu", nil)
	if !strings.Contains(string(users.Body), `"disabled":true`) {
		t.Fatalf("users: %s", users.Body)
	}
	// Re-enabled, the user can sign in again (old tokens stay dead).
	admin.Must(200, "PATCH", "/api/v1/users/"+itoa(id), map[string]any{"disabled": false})
	stu.Must(401, "GET", "/api/v1/me", nil)
	env.Login("stu").Must(200, "GET", "/api/v1/me", nil)
}

func TestTicketLogin(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	admin, err := env.Srv.HostAdmin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	tk, err := env.Srv.LoginTicket(t.Context(), admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	c := env.Anon()
	r := c.Must(200, "POST", "/api/v1/session/ticket", map[string]any{"ticket": tk})
	c.CSRF = r.JSON()["csrf_token"].(string)
	c.Must(200, "GET", "/api/v1/settings", nil)
	env.Anon().Must(401, "POST", "/api/v1/session/ticket", map[string]any{"ticket": tk}) // works once
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
