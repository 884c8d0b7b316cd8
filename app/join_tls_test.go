package app

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"teamchat/server/config"
	"teamchat/server/discovery"
	"teamchat/server/servertest"
)

// A class that announces a TLS fingerprint opens through the pinned proxy; a
// look-alike announcing another fingerprint for the same address gets a clear
// refusal instead of the page.
func TestJoinOpensPinnedClassThroughProxy(t *testing.T) {
	env := servertest.Start(t, func(c *config.Config) { c.TLS = true })
	hostPort := strings.TrimPrefix(env.URL, "http://")
	host, portStr, _ := strings.Cut(hostPort, ":")
	port, _ := strconv.Atoi(portStr)
	j := newJoin(slog.New(slog.NewTextHandler(io.Discard, nil)), "")
	defer j.close()
	e := discovery.Entry{Instance: "Physics", Name: "Physics", ID: "x", Path: "/", Version: "1", Host: "h.local",
		Port: port, Addrs: []string{host}, Fingerprint: env.Srv.Fingerprint()}
	j.found(e)
	if st := j.State(); len(st.Classes) != 1 || !st.Classes[0].Pinned {
		t.Fatalf("state: %+v", st)
	}
	u, err := j.Open(e.URL())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, "http://127.0.0.1:") || u == e.URL() {
		t.Fatalf("pinned class opened at %s, want the local proxy", u)
	}
	res, err := http.Get(u + "api/v1/info")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("through the proxy: %v %v", err, res)
	}
	res.Body.Close()
	if again, _ := j.Open(e.URL()); again != u {
		t.Fatalf("second open started another proxy: %s", again)
	}

	// The same address announced with another fingerprint (an impostor's).
	j2 := newJoin(slog.New(slog.NewTextHandler(io.Discard, nil)), "")
	defer j2.close()
	e.Fingerprint = strings.Repeat("0", 64)
	j2.found(e)
	u2, err := j2.Open(e.URL())
	if err != nil {
		t.Fatal(err)
	}
	res, err = http.Get(u2 + "api/v1/info")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 502 || !strings.Contains(string(body), "pretending") {
		t.Fatalf("impostor: %d %s", res.StatusCode, body)
	}
}
