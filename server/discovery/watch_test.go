package discovery

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeNet is an injectable address source and registrar: it records every
// registration and every unannouncement, so the watcher's decisions can be
// checked without any multicast.
type fakeNet struct {
	mu      sync.Mutex
	ifaces  []net.Interface
	set     []string
	fail    error
	regs    []Announcement // each registration, in order
	live    int            // registrations not yet closed
	closes  int
	regHook func(Announcement) (io.Closer, error) // optional: a real registration
}

func (f *fakeNet) source() ([]net.Interface, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ifaces), slices.Clone(f.set)
}

func (f *fakeNet) setAddrs(set ...string) {
	f.mu.Lock()
	f.set = set
	f.mu.Unlock()
}

func (f *fakeNet) register(a Announcement) (io.Closer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var inner io.Closer
	if f.regHook != nil {
		c, err := f.regHook(a)
		if err != nil {
			return nil, err
		}
		inner = c
	}
	f.regs = append(f.regs, a)
	f.live++
	return closerFunc(func() error {
		f.mu.Lock()
		f.live--
		f.closes++
		f.mu.Unlock()
		if inner != nil {
			return inner.Close()
		}
		return nil
	}), nil
}

func (f *fakeNet) counts() (regs, live, closes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.regs), f.live, f.closes
}

type closerFunc func() error

func (c closerFunc) Close() error { return c() }

var testIface = net.Interface{Index: 3, Name: "wlan0", Flags: net.FlagUp | net.FlagMulticast}

func TestWatcherReannouncesOnlyWhenAddressesChange(t *testing.T) {
	f := &fakeNet{ifaces: []net.Interface{testIface}, set: []string{"wlan0#3/192.168.1.20"}}
	a := Announcement{Instance: "Physics", Port: 8080, Name: "Physics", ID: "abc", Fingerprint: strings.Repeat("0f", 32)}
	w := newWatcher(a, f.source, f.register, nil)
	defer w.Close()

	step := func(name string, wantAgain bool, wantErr error, wantRegs, wantLive, wantCloses int) {
		t.Helper()
		again, err := w.check()
		if again != wantAgain || !errors.Is(err, wantErr) {
			t.Fatalf("%s: check() = %v, %v; want %v, %v", name, again, err, wantAgain, wantErr)
		}
		if r, l, c := f.counts(); r != wantRegs || l != wantLive || c != wantCloses {
			t.Fatalf("%s: registrations %d, live %d, closed %d; want %d, %d, %d", name, r, l, c, wantRegs, wantLive, wantCloses)
		}
	}
	step("first look", true, nil, 1, 1, 0)
	step("nothing changed", false, nil, 1, 1, 0)
	step("still nothing", false, nil, 1, 1, 0)

	// DHCP gives a new address: the old announcement says goodbye first, then
	// the same class is registered again.
	f.setAddrs("wlan0#3/192.168.1.57")
	step("new IPv4 address", true, nil, 2, 1, 1)
	step("settled", false, nil, 2, 1, 1)

	// An extra address (an IPv6 one arriving) also changes the set.
	f.setAddrs("wlan0#3/192.168.1.57", "wlan0#3/fe80::1")
	step("address added", true, nil, 3, 1, 2)

	// The laptop sleeps: no address at all. Unannounce and wait.
	f.setAddrs()
	step("no address", false, errNoAddress, 3, 0, 3)
	step("still no address", false, errNoAddress, 3, 0, 3)

	// It wakes on another network.
	f.setAddrs("wlan0#3/10.0.0.9")
	step("woke up", true, nil, 4, 1, 3)

	// Every registration carried the same class: instance, port, TXT inputs.
	for i, r := range f.regs {
		r.Ifaces = nil
		if want := a; r.Instance != want.Instance || r.Port != want.Port || r.Name != want.Name ||
			r.ID != want.ID || r.Fingerprint != want.Fingerprint || r.Host != "" || r.IPs != nil {
			t.Errorf("registration %d = %+v, want the original %+v", i, r, want)
		}
		if len(f.regs[i].Ifaces) != 1 || f.regs[i].Ifaces[0].Name != "wlan0" {
			t.Errorf("registration %d on interfaces %v, want the watched wlan0", i, f.regs[i].Ifaces)
		}
	}

	w.Close()
	if _, live, _ := f.counts(); live != 0 {
		t.Fatalf("Close left %d announcements live", live)
	}
	step("after Close", false, nil, 4, 0, 4)
}

// A failed registration (port 5353 taken, no multicast) is retried on the
// next look even when the addresses did not change.
func TestWatcherRetriesAFailedRegistration(t *testing.T) {
	f := &fakeNet{ifaces: []net.Interface{testIface}, set: []string{"wlan0#3/192.168.1.20"}, fail: errors.New("no multicast")}
	w := newWatcher(Announcement{Name: "x", Port: 1}, f.source, f.register, nil)
	defer w.Close()
	if again, err := w.check(); again || err == nil {
		t.Fatalf("check with a failing registrar = %v, %v", again, err)
	}
	f.mu.Lock()
	f.fail = nil
	f.mu.Unlock()
	if again, err := w.check(); !again || err != nil {
		t.Fatalf("retry = %v, %v; want a registration", again, err)
	}
	if r, l, _ := f.counts(); r != 1 || l != 1 {
		t.Fatalf("registrations %d live %d", r, l)
	}
}

// The loop looks on its own; Close stops it and unannounces, once.
func TestWatcherLoopAndClose(t *testing.T) {
	f := &fakeNet{ifaces: []net.Interface{testIface}, set: []string{"wlan0#3/192.168.1.20"}}
	w := newWatcher(Announcement{Name: "x", Port: 1}, f.source, f.register, nil)
	if _, err := w.check(); err != nil {
		t.Fatal(err)
	}
	w.start(5 * time.Millisecond)
	f.setAddrs("wlan0#3/192.168.1.21")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if r, _, _ := f.counts(); r == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the loop did not re-announce after the address changed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, live, closes := f.counts()
	if live != 0 || closes != 2 {
		t.Fatalf("after Close: live %d, closes %d", live, closes)
	}
	// Close waited for the loop to end; a check after it (as a late tick
	// would make) must not announce again.
	f.setAddrs("wlan0#3/192.168.1.22")
	if again, err := w.check(); again || err != nil {
		t.Fatalf("check after Close = %v, %v", again, err)
	}
	if r2, _, _ := f.counts(); r2 != r {
		t.Fatalf("registered after Close (%d → %d)", r, r2)
	}
}

func TestUsableAddrs(t *testing.T) {
	ifi := net.Interface{Index: 7, Name: "eth0"}
	cidr := func(s string) net.Addr {
		ip, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip
		return n
	}
	got := usableAddrs(ifi, []net.Addr{
		cidr("192.168.1.20/24"), cidr("127.0.0.1/8"), cidr("::1/128"), cidr("fe80::1/64"),
		cidr("2001:db8::5/64"), cidr("ff02::fb/128"), &net.IPAddr{IP: net.ParseIP("10.0.0.1")},
	})
	want := []string{"eth0#7/192.168.1.20", "eth0#7/fe80::1", "eth0#7/2001:db8::5"}
	if !slices.Equal(got, want) {
		t.Fatalf("usableAddrs = %q, want %q", got, want)
	}
}

// Named interfaces that vanish must never turn into "every interface".
func TestSystemAddrsMissingInterface(t *testing.T) {
	src := systemAddrs(Announcement{Ifaces: []net.Interface{{Name: "tc-no-such-if0", Index: 999}}})
	if ifaces, set := src(); ifaces != nil || set != nil {
		t.Fatalf("missing interface: %v %v, want nothing", ifaces, set)
	}
	lo := loopback(t)
	src = systemAddrs(Announcement{Ifaces: lo, IPs: []string{"127.0.0.2", "127.0.0.1"}})
	ifaces, set := src()
	if len(ifaces) != 1 || ifaces[0].Name != lo[0].Name || !slices.Contains(set, "127.0.0.1") || !slices.Contains(set, "127.0.0.2") {
		t.Fatalf("fixed IPs on %s: %v %q", lo[0].Name, ifaces, set)
	}
}

// TestReannounceOnLoopback runs the real zeroconf registration on the
// loopback interface only: the watched "host address" moves from 127.0.0.1
// to 127.0.0.2 and a browser on loopback sees the class at the new address.
func TestReannounceOnLoopback(t *testing.T) {
	lo := loopback(t)
	suffix := randomSuffix(t)
	instance := "Rewatch " + suffix
	f := &fakeNet{ifaces: lo, set: []string{"lo/127.0.0.1"}}
	f.regHook = func(a Announcement) (io.Closer, error) {
		// Publish the fake source's current address (the lock is held by register).
		ip := strings.TrimPrefix(f.set[0], "lo/")
		a.Host, a.IPs = "tc-rewatch-"+suffix, []string{ip}
		return Announce(a)
	}
	w := newWatcher(Announcement{Instance: instance, Port: 18081, Name: instance, ID: "id-" + suffix}, f.source, f.register, nil)
	defer w.Close()
	if _, err := w.check(); err != nil {
		t.Fatalf("first announcement: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	found := make(chan Entry, 32)
	errc := make(chan error, 1)
	go func() {
		errc <- Browser{Ifaces: lo, Round: time.Second, Found: func(e Entry) {
			if e.Instance == instance {
				found <- e
			}
		}}.Run(ctx)
	}()
	waitAddr := func(want string) {
		t.Helper()
		for {
			select {
			case e := <-found:
				if slices.Equal(e.Addrs, []string{want}) {
					return
				}
			case err := <-errc:
				t.Fatalf("browser ended: %v", err)
			case <-ctx.Done():
				t.Fatalf("the class was not seen at %s", want)
			}
		}
	}
	waitAddr("127.0.0.1")
	f.setAddrs("lo/127.0.0.2")
	start := time.Now()
	if again, err := w.check(); !again || err != nil {
		t.Fatalf("check after the change = %v, %v", again, err)
	}
	waitAddr("127.0.0.2")
	t.Logf("new address seen %v after the re-announcement", time.Since(start).Round(time.Millisecond))
	w.Close()
	cancel()
	<-errc
}
