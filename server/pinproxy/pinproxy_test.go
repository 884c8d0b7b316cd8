package pinproxy_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"teamchat/server/config"
	"teamchat/server/pinproxy"
	"teamchat/server/servertest"
)

func TestPinnedProxyToATLSClass(t *testing.T) {
	env := servertest.Start(t, func(c *config.Config) { c.TLS = true })
	env.AddUser("prof", "admin")
	target := "https://" + strings.TrimPrefix(env.URL, "http://")
	p, err := pinproxy.Start(target, env.Srv.Fingerprint(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	base := strings.TrimSuffix(p.URL(), "/")

	// REST and the browser session through the proxy: the cookie arrives and works.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err := c.Post(base+"/api/v1/session", "application/json", strings.NewReader(`{"username":"prof","password":"`+servertest.Password+`"}`))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("sign in through the proxy: %v %v", err, res)
	}
	res.Body.Close()
	res, err = c.Get(base + "/api/v1/me")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("session through the proxy: %v %v", err, res)
	}
	res.Body.Close()

	// The WebSocket with the page's origin (the proxy's) reaches the server.
	var cookies []string
	for _, ck := range jar.Cookies(mustURL(base)) {
		cookies = append(cookies, ck.Name+"="+ck.Value)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/v1/ws",
		http.Header{"Origin": {base}, "Cookie": {strings.Join(cookies, "; ")}})
	if err != nil {
		t.Fatalf("websocket through the proxy: %v", err)
	}
	var ready map[string]any
	if err := ws.ReadJSON(&ready); err != nil || ready["type"] != "ready" {
		t.Fatalf("ready: %v %v", err, ready)
	}
	ws.Close()

	// Another origin is still refused by the server behind the proxy.
	if _, res, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/v1/ws",
		http.Header{"Origin": {"http://evil.example"}, "Cookie": {strings.Join(cookies, "; ")}}); err == nil || res.StatusCode != 403 {
		t.Fatalf("evil origin through the proxy: %v", err)
	}

	// A proxy pinned to another certificate refuses to talk to this server.
	bad, err := pinproxy.Start(target, strings.Repeat("ab", 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	res, err = http.Get(bad.URL() + "api/v1/info")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 502 || !strings.Contains(string(body), "fingerprint") {
		t.Fatalf("wrong pin: %d %s", res.StatusCode, body)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
