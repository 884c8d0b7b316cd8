package cli

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"teamchat/server/discovery"
)

// TestDiscoverJSONOnLoopback announces on the loopback interface only and
// checks what `teamchat discover --json --iface lo` prints.
func TestDiscoverJSONOnLoopback(t *testing.T) {
	var lo *net.Interface
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for i := range ifaces {
		if ifaces[i].Flags&net.FlagLoopback != 0 && ifaces[i].Flags&net.FlagUp != 0 {
			lo = &ifaces[i]
		}
	}
	if lo == nil {
		t.Fatal("no loopback interface is up")
	}
	b := make([]byte, 4)
	rand.Read(b)
	suffix := hex.EncodeToString(b)
	ann, err := discovery.Announce(discovery.Announcement{
		Instance: "cli test " + suffix, Port: 18181, Name: "Algèbre " + suffix, ID: "id-" + suffix,
		Host: "tc-cli-" + suffix, IPs: []string{"127.0.0.1"}, Ifaces: []net.Interface{*lo},
	})
	if err != nil {
		t.Fatalf("Announce: %v", err)
	}
	defer ann.Close()

	var stdout, stderr bytes.Buffer
	code := Discover([]string{"--timeout", "3s", "--json", "--iface", lo.Name}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, stderr.String())
	}
	var got map[string]any
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		if m["id"] == "id-"+suffix {
			got = m
		}
	}
	if got == nil {
		t.Fatalf("class not listed; stdout:\n%s", stdout.String())
	}
	want := map[string]any{
		"instance": "cli test " + suffix, "name": "Algèbre " + suffix, "path": "/", "v": "1",
		"host": "tc-cli-" + suffix + ".local", "port": float64(18181), "url": "http://127.0.0.1:18181/",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if addrs, _ := got["addrs"].([]any); len(addrs) != 1 || addrs[0] != "127.0.0.1" {
		t.Errorf("addrs = %v", got["addrs"])
	}

	// The text form carries the same facts on one line.
	line := FormatDiscovered(discovery.Entry{Name: "Maths", Host: "h.local", Addrs: []string{"10.0.0.1"}, Port: 8080, ID: "x", Path: "/"})
	for _, part := range []string{`"Maths"`, "host=h.local", "addrs=10.0.0.1", "port=8080", "id=x", "url=http://10.0.0.1:8080/"} {
		if !strings.Contains(line, part) {
			t.Errorf("text line %q lacks %q", line, part)
		}
	}
}

func TestDiscoverUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--timeout", "0s"},
		{"--bogus"},
		{"extra"},
		{"--iface", "no-such-interface-xyz"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Discover(args, &stdout, &stderr); code != 2 {
			t.Errorf("Discover(%q) = %d, want 2 (stderr %q)", args, code, stderr.String())
		}
		if stderr.Len() == 0 {
			t.Errorf("Discover(%q) said nothing on stderr", args)
		}
	}
}
