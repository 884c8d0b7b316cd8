package api_test

import (
	"net"
	"net/http"
	"strings"
	"testing"

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
	for _, name := range []string{"Professor", "prof", "PROF.", "Admin", "Teacher", "prof.  ada LOVELACE", "Prof.\u200b Ada\u202e Lovelace", "ＰＲＯＦ．ＡＤＡ ＬＯＶＥＬＡＣＥ"} {
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
