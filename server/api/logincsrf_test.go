package api_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"teamchat/server/api"
	"teamchat/server/servertest"
)

// What a browser sends for <form method=post enctype=text/plain> on another
// site whose one field is named `{"username":"mallory","password":"…` and
// valued `"}`: the body `{"username":"mallory","password":"…="}`, valid JSON
// for an account whose password ends in "=".
func crossSiteForm(c *servertest.Client, path, body string) servertest.Resp {
	c.Header = http.Header{
		"Content-Type":   {"text/plain"},
		"Origin":         {"http://evil.example"},
		"Sec-Fetch-Site": {"cross-site"},
		"Sec-Fetch-Mode": {"navigate"},
		"Sec-Fetch-Dest": {"document"},
	}
	defer func() { c.Header = http.Header{} }()
	return c.Do("POST", path, body)
}

func TestLoginCSRFIsRefused(t *testing.T) {
	env := servertest.Start(t)
	admin := env.AddUser("prof", "admin")
	const malloryPW = servertest.Password + "="
	if _, err := env.Srv.Chat().CreateUserCLI(t.Context(), "mallory", malloryPW, "", "user"); err != nil {
		t.Fatal(err)
	}
	admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"guest_access": true, "registration": "open"})
	code := admin.Must(200, "GET", "/api/v1/settings", nil).JSON()["join_code"].(string)
	login := `{"username":"mallory","password":"` + malloryPW + `"}`

	// The cross-site form post signs nobody in and sets no cookie.
	victim := env.Anon()
	if r := crossSiteForm(victim, "/api/v1/session", login); r.Status == 200 || r.Header.Get("Set-Cookie") != "" {
		t.Fatalf("cross-site text/plain form: %d %s (Set-Cookie %q)", r.Status, r.Body, r.Header.Get("Set-Cookie"))
	}
	victim.Must(401, "GET", "/api/v1/me", nil)

	// Each defence on its own. A text/plain body from the page's own origin: 415.
	same := strings.TrimSuffix(env.URL, "/")
	for _, ct := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=iso-8859-1", "application/jsonx"} {
		c := env.Anon()
		c.Header = http.Header{"Origin": {same}, "Content-Type": {ct}}
		r := c.Do("POST", "/api/v1/session", login)
		if r.Status != 415 || r.ErrCode() != "unsupported_media_type" || r.Header.Get("Set-Cookie") != "" {
			t.Errorf("Content-Type %q: %d %s", ct, r.Status, r.Body)
		}
	}
	// JSON from another site's page (Origin, or only Sec-Fetch-Site): 403 on every
	// route that sets the cookie.
	tk, err := env.Srv.LoginTicket(t.Context(), admin.ID())
	if err != nil {
		t.Fatal(err)
	}
	cookieRoutes := map[string]map[string]any{
		"/api/v1/session":        {"username": "mallory", "password": malloryPW},
		"/api/v1/session/ticket": {"ticket": tk},
		"/api/v1/auth/token":     {"username": "mallory", "password": malloryPW, "session": true},
		"/api/v1/auth/register":  {"username": "mallory2", "password": malloryPW, "session": true},
		"/api/v1/auth/guest":     {"display_name": "Mal", "join_code": code, "session": true},
	}
	for path, body := range cookieRoutes {
		for _, h := range []http.Header{
			{"Origin": {"http://evil.example"}},
			{"Origin": {"null"}},
			{"Sec-Fetch-Site": {"cross-site"}},
			{"Sec-Fetch-Site": {"same-site"}},
		} {
			c := env.Anon()
			c.Header = h
			r := c.Do("POST", path, body)
			if r.Status != 403 || r.ErrCode() != "forbidden" || r.Header.Get("Set-Cookie") != "" {
				t.Errorf("POST %s with %v: %d %s", path, h, r.Status, r.Body)
			}
		}
	}
	// Nothing was done for the refused requests: the ticket still works, and
	// from the desktop shell's origin; the refused registration made no account.
	c := env.Anon()
	c.Header = http.Header{"Origin": {"wails://wails"}, "Sec-Fetch-Site": {"cross-site"}}
	c.Must(200, "POST", "/api/v1/session/ticket", map[string]any{"ticket": tk})
	if r := admin.Must(200, "GET", "/api/v1/users?q=mallory2", nil); strings.Contains(string(r.Body), "mallory2") {
		t.Fatalf("a refused cross-site registration created the account: %s", r.Body)
	}

	// The page's own sign-in still works: own origin, application/json with
	// charset utf-8, Sec-Fetch-Site same-origin; and API clients send neither header.
	own := env.Anon()
	own.Header = http.Header{"Origin": {same}, "Sec-Fetch-Site": {"same-origin"}, "Content-Type": {"application/json; charset=utf-8"}}
	if r := own.Must(200, "POST", "/api/v1/session", map[string]any{"username": "mallory", "password": malloryPW}); r.Header.Get("Set-Cookie") == "" {
		t.Fatal("same-origin sign-in set no cookie")
	}
	own.Header = http.Header{}
	own.Must(200, "GET", "/api/v1/me", nil)
	env.Anon().Must(200, "POST", "/api/v1/auth/token", map[string]any{"username": "mallory", "password": malloryPW, "session": true})
}

// Every route that takes a JSON body refuses any other Content-Type with
// 415 in the envelope, before looking at the body; the upload route takes
// the file's own type.
func TestJSONRoutesRefuseOtherContentTypes(t *testing.T) {
	env := servertest.Start(t)
	admin := env.AddUser("prof", "admin")
	ids := regexp.MustCompile(`\{[a-z_]+\}`)
	bodyless := map[string]bool{ // routes that read no body at all
		"POST /api/v1/messages/{id}/pin":                      true,
		"POST /api/v1/sessions/{id}/end":                      true,
		"PUT /api/v1/messages/{id}/reactions/{emoji}":         true,
		"POST /api/v1/attachments":                            true, // the file itself
		"DELETE /api/v1/session":                              true,
		"DELETE /api/v1/users/{id}":                           true,
		"DELETE /api/v1/conversations/{id}":                   true,
		"DELETE /api/v1/conversations/{id}/members/{user_id}": true,
	}
	n := 0
	for _, p := range api.Routes() {
		m, path, _ := strings.Cut(p, " ")
		if m == "GET" || strings.HasPrefix(p, "DELETE") || bodyless[p] {
			continue
		}
		admin.Header = http.Header{"Content-Type": {"text/plain"}}
		r := admin.Do(m, ids.ReplaceAllString(path, "1"), `{"name":"x"}`)
		if r.Status != 415 || r.ErrCode() != "unsupported_media_type" {
			t.Errorf("%s with text/plain: %d %s", p, r.Status, r.Body)
		}
		n++
	}
	admin.Header = http.Header{}
	if n < 20 {
		t.Fatalf("only %d JSON routes checked", n)
	}
	// The upload route is unchanged: a file's own type.
	admin.Header = http.Header{"Content-Type": {"text/plain"}}
	if r := admin.Do("POST", "/api/v1/attachments?conversation_id=1&name=notes.txt", "some notes"); r.Status != 201 {
		t.Fatalf("text upload: %d %s", r.Status, r.Body)
	}
}
