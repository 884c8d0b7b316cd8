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
