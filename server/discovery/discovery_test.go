package discovery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func loopback(t *testing.T) []net.Interface {
	t.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatalf("interfaces: %v", err)
	}
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagLoopback != 0 && ifi.Flags&net.FlagUp != 0 {
			return []net.Interface{ifi}
		}
	}
	t.Fatal("no loopback interface is up: the mDNS tests announce and browse on loopback only")
	return nil
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestAnnounceBrowseLoopback announces a class on the loopback interface only
// (never on the machine's real network) and finds it with Browser, then checks
// that closing the announcement makes it disappear.
func TestAnnounceBrowseLoopback(t *testing.T) {
	lo := loopback(t)
	suffix := randomSuffix(t)
	instance := "Physique 101. été (" + suffix + ")"
	name := `Physique 101 – été \ "quoted" ` + suffix
	host := "tc-test-" + suffix

	ann, err := Announce(Announcement{
		Instance: instance, Port: 18080, Name: name, ID: "inst-" + suffix,
		Host: host, IPs: []string{"127.0.0.1"}, Ifaces: lo,
	})
	if err != nil {
		t.Fatalf("Announce: %v", err)
	}
	closed := false
	defer func() {
		if !closed {
			ann.Close()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	found := make(chan Entry, 16)
	lost := make(chan Entry, 16)
	errc := make(chan error, 1)
	go func() {
		errc <- Browser{
			Ifaces: lo,
			Round:  time.Second,
			Found: func(e Entry) {
				if strings.Contains(e.Instance, suffix) {
					found <- e
				}
			},
			Lost: func(e Entry) {
				if strings.Contains(e.Instance, suffix) {
					lost <- e
				}
			},
		}.Run(ctx)
	}()

	var got Entry
	select {
	case got = <-found:
	case err := <-errc:
		t.Fatalf("Browse ended before finding the class: %v", err)
	case <-ctx.Done():
		t.Fatal("the class announced on loopback was not found within 30 s")
	}
	want := Entry{
		Instance: instance, Name: name, ID: "inst-" + suffix, Path: "/", Version: "1",
		Host: host + ".local", Port: 18080, Addrs: []string{"127.0.0.1"},
	}
	if !got.equal(want) {
		t.Fatalf("found\n %+v\nwant\n %+v", got, want)
	}
	if u := got.URL(); u != "http://127.0.0.1:18080/" {
		t.Errorf("URL() = %q", u)
	}

	if err := ann.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	closed = true
	if err := ann.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case e := <-lost:
		if e.Instance != instance {
			t.Errorf("lost %q, want %q", e.Instance, instance)
		}
	case <-ctx.Done():
		t.Fatal("the class was still listed after its announcement closed")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{
		"plain", "with space", "dot.ted", `back\slash`, `"q"`, "(p);@", "été – 数学", "tab\there",
	} {
		esc := escapeLabel(s)
		if strings.ContainsAny(esc, " .") && !strings.Contains(esc, `\`) {
			t.Errorf("escapeLabel(%q) = %q leaves separators unescaped", s, esc)
		}
		if got := unescape(esc); got != s {
			t.Errorf("unescape(escapeLabel(%q)) = %q", s, got)
		}
	}
	if got := unescape(`Math\032101\.`); got != "Math 101." {
		t.Errorf("unescape decimal = %q", got)
	}
}

func TestTruncateKeepsUTF8(t *testing.T) {
	s := strings.Repeat("é", 40) // 80 bytes
	got := truncate(s, maxLabel)
	if len(got) > maxLabel || !strings.HasPrefix(s, got) || len(got)%2 != 0 {
		t.Fatalf("truncate = %q (%d bytes)", got, len(got))
	}
	if truncate("short", 10) != "short" {
		t.Fatal("truncate changed a short string")
	}
}

func TestTXT(t *testing.T) {
	got := TXT("Maths", "abc", "")
	want := []string{"v=1", "name=Maths", "path=/", "id=abc"}
	if !slices.Equal(got, want) {
		t.Fatalf("TXT = %q, want %q", got, want)
	}
	got = TXT("Maths", "abc", "00ff")
	want = append(want, "tls=1", "fp=00ff")
	if !slices.Equal(got, want) {
		t.Fatalf("TXT with TLS = %q, want %q", got, want)
	}
	long := TXT(strings.Repeat("x", 400), "id", "")
	if len(long[1]) != maxTXT {
		t.Fatalf("long name TXT is %d bytes", len(long[1]))
	}
}

func TestEntryURL(t *testing.T) {
	tests := []struct {
		e    Entry
		want string
	}{
		{Entry{Port: 8080, Path: "/", Addrs: []string{"10.0.0.2", "fe80::1"}}, "http://10.0.0.2:8080/"},
		{Entry{Port: 8080, Path: "/", Addrs: []string{"fe80::1", "2001:db8::5"}}, "http://[2001:db8::5]:8080/"},
		{Entry{Port: 8081, Path: "chat", Addrs: []string{"192.168.1.4"}}, "http://192.168.1.4:8081/chat"},
		{Entry{Port: 8080, Path: "/", Addrs: []string{"fe80::1"}}, ""},
		{Entry{Port: 8080, Path: "/"}, ""},
	}
	for _, tt := range tests {
		if got := tt.e.URL(); got != tt.want {
			t.Errorf("%v.URL() = %q, want %q", tt.e.Addrs, got, tt.want)
		}
	}
}

func TestAnnounceRejectsBadPort(t *testing.T) {
	if _, err := Announce(Announcement{Name: "x", Port: 0}); err == nil {
		t.Fatal("Announce with port 0 succeeded")
	}
}
