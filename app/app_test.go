package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"teamchat/server"
	"teamchat/server/config"
	"teamchat/server/discovery"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestNormalizeURL(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"192.168.1.20:8080", "http://192.168.1.20:8080/", true},
		{" 192.168.1.20 ", "http://192.168.1.20:8080/", true},
		{"prof-laptop.local", "http://prof-laptop.local:8080/", true},
		{"http://10.0.0.5:8081/?code=AB12CD", "http://10.0.0.5:8081/?code=AB12CD", true},
		{"https://chat.example.edu", "https://chat.example.edu/", true},
		{"[fd00::5]:8080", "http://[fd00::5]:8080/", true},
		{"", "", false},
		{"javascript:alert(1)", "", false},
		{"file:///etc/passwd", "", false},
		{"wails://wails/", "", false},
		{"http://", "", false},
		{"http://user:pw@10.0.0.5/", "", false},
	}
	for _, tt := range tests {
		got, err := NormalizeURL(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("NormalizeURL(%q) = %q, %v; want %q (ok=%v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestJoinState(t *testing.T) {
	j := newJoin(quietLog(), "")
	now := j.started
	j.now = func() time.Time { return now }
	if st := j.State(); !st.Searching || len(st.Classes) != 0 || st.Classes == nil {
		t.Fatalf("fresh state = %+v, want searching with an empty (non-nil) list", st)
	}
	j.found(discovery.Entry{Instance: "b", Name: "zoology", Version: "1", Host: "h1.local", Port: 8080, Path: "/",
		Addrs: []string{"fe80::1", "10.0.0.2"}})
	j.found(discovery.Entry{Instance: "a", Name: "Algebra", Version: "2", Host: "h2.local", Port: 8081, Path: "/",
		Addrs: []string{"10.0.0.3"}})
	now = now.Add(searchFor)
	st := j.State()
	if st.Searching {
		t.Error("still searching after searchFor")
	}
	if len(st.Classes) != 2 || st.Classes[0].Name != "Algebra" || st.Classes[1].Name != "zoology" {
		t.Fatalf("classes = %+v, want Algebra then zoology", st.Classes)
	}
	z := st.Classes[1]
	if z.URL != "http://10.0.0.2:8080/" || len(z.Addrs) != 1 || z.Addrs[0] != "10.0.0.2" || !z.Compatible {
		t.Errorf("zoology = %+v", z)
	}
	if st.Classes[0].Compatible {
		t.Error("a v=2 class is marked compatible")
	}
	// A changed announcement replaces the old one; a lost class goes away.
	j.found(discovery.Entry{Instance: "b", Name: "Zoology 2", Version: "1", Port: 9000, Path: "/", Addrs: []string{"10.0.0.9"}})
	j.lost(discovery.Entry{Instance: "a"})
	st = j.State()
	if len(st.Classes) != 1 || st.Classes[0].Name != "Zoology 2" || st.Classes[0].URL != "http://10.0.0.9:9000/" {
		t.Fatalf("after change and loss: %+v", st.Classes)
	}
	j.browseFailed(errors.New("no multicast interface"))
	if st := j.State(); !strings.Contains(st.Error, "no multicast interface") {
		t.Errorf("error = %q", st.Error)
	}
}

func TestJoinOpen(t *testing.T) {
	j := newJoin(quietLog(), "http://10.0.0.1:8080/")
	if st := j.State(); st.Open != "http://10.0.0.1:8080/" {
		t.Errorf("Open = %q", st.Open)
	}
	if st := j.State(); st.Open != "" {
		t.Errorf("the command-line URL is opened again: %q", st.Open)
	}
	if u, err := j.Open("10.1.2.3"); err != nil || u != "http://10.1.2.3:8080/" {
		t.Errorf("Open = %q, %v", u, err)
	}
	if _, err := j.Open("javascript:alert(1)"); err == nil {
		t.Error("Open accepted a javascript: URL")
	}
}

func TestHostConfig(t *testing.T) {
	var stderr bytes.Buffer
	cfg, _, ok := hostConfig([]string{"--addr", "127.0.0.1:9999", "--data", t.TempDir(), "--no-mdns"}, &stderr)
	if !ok || cfg.Addr != "127.0.0.1:9999" || !cfg.NoMDNS || !cfg.PortFallback {
		t.Fatalf("cfg = %+v ok=%v stderr=%s", cfg, ok, stderr.String())
	}
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{"-h"}, 0},
		{[]string{"--addr", "nonsense"}, 2},
		{[]string{"--bogus"}, 2},
		{[]string{"http://10.0.0.1/"}, 2},
	} {
		stderr.Reset()
		if _, code, ok := hostConfig(tt.args, &stderr); ok || code != tt.code {
			t.Errorf("hostConfig(%q) = code %d ok %v, want code %d", tt.args, code, ok, tt.code)
		}
	}
}

func TestJoinArgs(t *testing.T) {
	var stderr bytes.Buffer
	for _, tt := range []struct {
		args []string
		url  string
		code int
		ok   bool
	}{
		{nil, "", 0, true},
		{[]string{"10.0.0.4:8080"}, "http://10.0.0.4:8080/", 0, true},
		{[]string{"ftp://x"}, "", 2, false},
		{[]string{"a", "b"}, "", 2, false},
		{[]string{"-h"}, "", 0, false},
	} {
		u, code, ok := joinArgs(tt.args, &stderr)
		if u != tt.url || code != tt.code || ok != tt.ok {
			t.Errorf("joinArgs(%q) = %q %d %v", tt.args, u, code, ok)
		}
	}
}

// TestHostWithServer drives the host window's bound methods against the real
// embedded server on 127.0.0.1 (no mDNS): first-run setup, the console URL
// whose ticket signs in, and a second instance on the same data directory.
func TestHostWithServer(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.NoMDNS = true
	cfg.PortFallback = true
	cfg.BcryptCost = 4
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(cfg, quietLog())
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}()

	h := newHost(quietLog(), dir)
	if err := h.prepare(context.Background(), srv); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if st := h.State(); st.Phase != PhaseSetup || st.DataDir != dir {
		t.Fatalf("first run state = %+v", st)
	}
	if _, err := h.OpenConsole(); err == nil {
		t.Fatal("OpenConsole worked before setup")
	}
	if err := h.Setup("Physics 101", "Ada", "not a valid username!", "correct horse battery"); err == nil {
		t.Fatal("Setup accepted an invalid username")
	}
	if st := h.State(); st.Phase != PhaseSetup {
		t.Fatalf("a failed setup left phase %q", st.Phase)
	}
	if err := h.Setup(" Physics 101 ", "Ada Lovelace", "ada", "correct horse battery"); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if st := h.State(); st.Phase != PhaseReady {
		t.Fatalf("after setup phase = %q", st.Phase)
	}
	if err := h.Setup("Again", "Eve", "eve", "correct horse battery"); err == nil {
		t.Fatal("a second Setup succeeded")
	}

	raw, err := h.OpenConsole()
	if err != nil {
		t.Fatalf("OpenConsole: %v", err)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Fragment != "console" || !strings.HasPrefix(raw, srv.LocalURL()+"?ticket=") {
		t.Fatalf("console URL %q (LocalURL %q)", raw, srv.LocalURL())
	}
	ticket := u.Query().Get("ticket")
	redeem := func() *http.Response {
		body, _ := json.Marshal(map[string]string{"ticket": ticket})
		req, _ := http.NewRequest("POST", srv.LocalURL()+"api/v1/session/ticket", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", strings.TrimSuffix(srv.LocalURL(), "/"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("redeem: %v", err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := redeem(); resp.StatusCode != http.StatusOK {
		t.Fatalf("redeeming the console ticket: %s", resp.Status)
	}
	if resp := redeem(); resp.StatusCode == http.StatusOK {
		t.Fatal("the console ticket worked twice")
	}

	// A second instance on the same data directory is refused, and the host
	// page would show why.
	_, err = server.New(cfg, quietLog())
	if !errors.Is(err, server.ErrDataDirLocked) {
		t.Fatalf("second server.New: %v, want ErrDataDirLocked", err)
	}
	h2 := newHost(quietLog(), dir)
	h2.fail(err)
	if st := h2.State(); st.Phase != PhaseError || !strings.Contains(st.Error, "in use") {
		t.Fatalf("second instance state = %+v", st)
	}
	if err := h2.Setup("x", "y", "z", "password1"); err == nil {
		t.Fatal("Setup worked in the error phase")
	}
}

// TestHostQuitBeforeSetup: closing the window on the setup page shuts down a
// server that never started, and releases the data directory.
func TestHostQuitBeforeSetup(t *testing.T) {
	cfg := config.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.NoMDNS = true
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second round proves the lock was released
		srv, err := server.New(cfg, quietLog())
		if err != nil {
			t.Fatalf("server.New #%d: %v", i+1, err)
		}
		h := newHost(quietLog(), cfg.DataDir)
		if err := h.prepare(context.Background(), srv); err != nil || h.State().Phase != PhaseSetup {
			t.Fatalf("prepare: %v, phase %q", err, h.State().Phase)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		done := make(chan error, 1)
		go func() { done <- srv.Shutdown(ctx) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("Shutdown of a server that never started hangs")
		}
		cancel()
	}
}
