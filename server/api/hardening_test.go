package api_test

import (
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"teamchat/server/config"
	"teamchat/server/servertest"
)

// TestHostAllowlistStopsDNSRebinding: a page on attacker.example whose name
// now resolves to the classroom server sends Host: attacker.example.
func TestHostAllowlistStopsDNSRebinding(t *testing.T) {
	env := servertest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"chat.school.example"}
		c.Origins = []string{"https://proxy.school.example"}
	})
	env.AddUser("prof", "admin")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(env.URL, "http://"))
	get := func(host, path string) int {
		req, _ := http.NewRequest("GET", env.URL+path, nil)
		req.Host = host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, h := range []string{"127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port, "chat.school.example", "CHAT.school.example.:" + port, "proxy.school.example"} {
		if s := get(h, "/api/v1/info"); s != 200 {
			t.Errorf("Host %q: %d, want 200", h, s)
		}
	}
	for _, h := range []string{"attacker.example", "attacker.example:" + port, "127.0.0.1.attacker.example", "0.0.0.0:" + port, "8.8.8.8", "school.example"} {
		for _, p := range []string{"/api/v1/info", "/", "/healthz", "/api/v1/ws"} {
			if s := get(h, p); s != http.StatusMisdirectedRequest {
				t.Errorf("Host %q %s: %d, want 421", h, p, s)
			}
		}
	}
}

func TestConnectionCapPerAddress(t *testing.T) {
	env := servertest.Start(t, func(c *config.Config) { c.MaxConnsPerIP = 3 })
	stu := env.AddUser("stu", "user")
	var open []*servertest.WS
	for range 3 {
		open = append(open, stu.DialWS())
	}
	h := http.Header{"Authorization": {"Bearer " + stu.Token}}
	if _, res, err := env.Dial(h); err == nil || res == nil || res.StatusCode != 429 {
		t.Fatalf("4th connection from one address accepted (err %v)", err)
	}
	// Closing one frees a slot.
	open[0].Close()
	servertest.Eventually(t, "a free slot", func() bool {
		ws, _, err := env.Dial(h)
		if err != nil {
			return false
		}
		ws.Expect("ready")
		return true
	})
}

func TestStudentsCannotPassForStaff(t *testing.T) {
	env := servertest.Start(t)
	admin := env.AddUser("ada", "admin")
	admin.Must(200, "PATCH", "/api/v1/me", map[string]any{"display_name": "Prof. Ada Lovelace"})
	code := admin.Must(200, "GET", "/api/v1/settings", nil).JSON()["join_code"].(string)
	for _, name := range []string{"Professor", "prof", "PROF.", "Admin", "Teacher", "prof.  ada LOVELACE", "Prof.\u200b Ada\u202e Lovelace", "ＰＲＯＦ．ＡＤＡ ＬＯＶＥＬＡＣＥ",
		"Рrоf. Аdа Lоvеlасе", "Ρrοf", "Pr0f", "Prôf. Ádá Lovelace", "ΤΕΑСΗΕR", "Аdmіn"} {
		r := env.Anon().Do("POST", "/api/v1/auth/guest", map[string]any{"display_name": name, "join_code": code})
		if r.Status != 400 || !strings.Contains(string(r.Body), "display_name") {
			t.Errorf("guest %q: %d %s", name, r.Status, r.Body)
		}
		r = env.Anon().Do("POST", "/api/v1/auth/register", map[string]any{"username": "s" + nameSuffix(name), "password": "long enough pw", "display_name": name, "join_code": code})
		if r.Status != 400 {
			t.Errorf("register %q: %d %s", name, r.Status, r.Body)
		}
	}
	stu := env.AddUser("stu", "user")
	stu.Must(400, "PATCH", "/api/v1/me", map[string]any{"display_name": "Professor"})
	stu.Must(200, "PATCH", "/api/v1/me", map[string]any{"display_name": "Ada Student"})
	env.Anon().Must(201, "POST", "/api/v1/auth/guest", map[string]any{"display_name": "Professional Pete", "join_code": code})
}

func nameSuffix(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	return b.String()[:min(b.Len(), 20)]
}

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	env := servertest.Start(t)
	for _, p := range []string{"/", "/chat/1", "/api/v1/info", "/api/v1/nope", "/healthz", "/index.html"} {
		r := env.Anon().Do("GET", p, nil)
		csp := r.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "object-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("X-Frame-Options") != "DENY" || r.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", p, r.Header)
		}
	}
}

func TestStaticFilesCannotEscape(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	for _, p := range []string{"/../teamchat.db", "/..%2fteamchat.db", "/%2e%2e/jwt.key", "/assets/../../jwt.key", "/..\\..\\jwt.key",
		"/.git/config", "/teamchat.db", "/jwt.key", "/COM1", "/assets/", "/static/../go.mod"} {
		req, _ := http.NewRequest("GET", env.URL+p, nil)
		req.URL.RawPath = p
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 64)
		n, _ := res.Body.Read(b)
		res.Body.Close()
		body := string(b[:n])
		if strings.HasPrefix(body, "SQLite format") || (res.StatusCode == 200 && !strings.Contains(strings.ToLower(body), "<!doctype html")) {
			t.Errorf("%s: %d %q", p, res.StatusCode, body)
		}
	}
}

func TestSearchAndFilterInputIsNotSQL(t *testing.T) {
	env := servertest.Start(t)
	admin := env.AddUser("prof", "admin")
	env.AddUser("under_score", "user")
	for q, want := range map[string]int{"' OR 1=1--": 0, "%": 0, "_": 1, `"; DROP TABLE users;--`: 0, "under_": 1} {
		r := admin.Must(200, "GET", "/api/v1/users?q="+url.QueryEscape(q), nil)
		var out struct{ Users []any }
		r.Decode(t, &out)
		if len(out.Users) != want {
			t.Errorf("q=%q: %d users, want %d", q, len(out.Users), want)
		}
	}
	if n := len(admin.Must(200, "GET", "/api/v1/users", nil).JSON()["users"].([]any)); n != 2 {
		t.Fatalf("users table damaged: %d users", n)
	}
}

func TestSlowlorisIsCutOff(t *testing.T) {
	env := servertest.Start(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")); err != nil {
		t.Fatal(err)
	}
	// Meanwhile normal requests are served.
	env.Anon().Must(200, "GET", "/healthz", nil)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	start := time.Now()
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("the half-sent request was not closed by the server: %v", err)
	}
	t.Logf("closed after %v (ReadHeaderTimeout)", time.Since(start).Round(time.Second))
}

func TestMessageFloodIsLimitedAndNotStored(t *testing.T) {
	// A refill of one message a minute: the burst is all a flood gets however
	// slowly a loaded machine runs the test, so the counts below are exact.
	env := servertest.Start(t, func(c *config.Config) { c.MsgRate, c.MsgBurst = 1.0/60, 10 })
	env.AddUser("prof", "admin")
	stu := env.AddUser("stu", "user")
	ws := stu.DialWS()
	for i := range 40 {
		ws.Send(map[string]any{"type": "send", "conversation_id": 1, "client_id": fmt.Sprintf("f%d", i), "body": "flood"})
	}
	acked, limited := 0, 0
	for acked+limited < 40 {
		f := ws.Next()
		switch {
		case f.Type() == "ack":
			acked++
		case f.Type() == "error" && f["code"] == "rate_limited":
			limited++
		}
	}
	if acked != 10 || limited != 30 {
		t.Fatalf("acked %d, limited %d; want the burst of 10 and 30 refused", acked, limited)
	}
	page := stu.Must(200, "GET", "/api/v1/conversations/1/messages?limit=200", nil)
	var out struct{ Messages []any }
	page.Decode(t, &out)
	if len(out.Messages) != acked {
		t.Fatalf("%d stored, %d acked: refused messages were stored", len(out.Messages), acked)
	}
	r := stu.Do("POST", "/api/v1/conversations/1/messages", map[string]any{"body": "one more"})
	if r.Status != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("REST during the flood: %d %v", r.Status, r.Header)
	}
}

func TestSameClientIDConcurrentlyStoresOnce(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	stu := env.AddUser("stu", "user")
	var wg sync.WaitGroup
	ids := make(chan string, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := stu.Do("POST", "/api/v1/conversations/1/messages", map[string]any{"body": "once", "client_id": "dup"})
			ids <- fmt.Sprintf("%d/%v/%v", r.Status/100, r.JSON()["id"], r.JSON()["seq"])
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id[2:]] = true
		if id[0] != '2' {
			t.Fatalf("answer %s", id)
		}
	}
	if len(seen) != 1 {
		t.Fatalf("different messages answered: %v", seen)
	}
	var out struct{ Messages []any }
	stu.Must(200, "GET", "/api/v1/conversations/1/messages", nil).Decode(t, &out)
	if len(out.Messages) != 1 {
		t.Fatalf("%d rows stored", len(out.Messages))
	}
}

func TestExpiredGuestIsCutOff(t *testing.T) {
	env := servertest.Start(t)
	admin := env.AddUser("prof", "admin")
	code := admin.Must(200, "GET", "/api/v1/settings", nil).JSON()["join_code"].(string)
	g := env.Anon()
	pair := g.Must(201, "POST", "/api/v1/auth/guest", map[string]any{"display_name": "Temp", "join_code": code}).JSON()
	g.Token = pair["access_token"].(string)
	g.Must(201, "POST", "/api/v1/conversations/1/messages", map[string]any{"body": "guest words"})
	ws := g.DialWS()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(env.DataDir, "teamchat.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE users SET expires_at = 1 WHERE role = 'guest'`); err != nil {
		t.Fatal(err)
	}
	env.Srv.Chat().ExpireGuests(t.Context())
	if code := ws.WaitClose(); code != 4401 {
		t.Fatalf("guest socket closed with %d", code)
	}
	g.Must(401, "GET", "/api/v1/me", nil)
	env.Anon().Must(401, "POST", "/api/v1/auth/refresh", map[string]any{"refresh_token": pair["refresh_token"]})
	// The guest's words stay in the record under its name.
	page := admin.Must(200, "GET", "/api/v1/conversations/1/messages", nil)
	if !strings.Contains(string(page.Body), "guest words") || !strings.Contains(string(page.Body), `"Temp"`) {
		t.Fatalf("guest message lost: %s", page.Body)
	}
}
