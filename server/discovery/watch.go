package discovery

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"
)

// WatchEvery is how often AnnounceWatching looks at the host's addresses by default.
const WatchEvery = 10 * time.Second

// errNoAddress: the announced interfaces have no usable address right now
// (Wi-Fi off, laptop asleep, interface gone); the watcher waits for one.
var errNoAddress = errors.New("discovery: no usable address on the announced interfaces")

// AnnounceWatching announces a like Announce and keeps the announcement true
// while the host's addresses change (a laptop waking up on another network, a
// new DHCP lease). zeroconf captures the addresses when it registers, so
// every interval (WatchEvery when ≤ 0) the watcher lists the usable addresses
// of the announced interfaces and, when they differ from those announced,
// unannounces (goodbye records for the stale addresses) and registers again
// with the same instance, port and TXT. A registration that failed is retried
// on every tick.
//
// The closer is nil only when a itself is unusable (bad port). When the first
// registration fails, its error is returned together with a running watcher
// that keeps retrying, so Close it in every case. Close stops the loop and
// unannounces; it is idempotent. log may be nil.
func AnnounceWatching(a Announcement, every time.Duration, log *slog.Logger) (io.Closer, error) {
	if a.Port <= 0 || a.Port > 65535 {
		return nil, fmt.Errorf("discovery: bad port %d", a.Port)
	}
	w := newWatcher(a, systemAddrs(a), Announce, log)
	_, err := w.check()
	if err != nil {
		w.lastErr = err.Error() // the caller reports this one
	}
	w.start(every)
	return w, err
}

// addrSource lists the interfaces to announce on and the usable addresses on
// them as sorted "name#index/ip" strings: equal lists mean nothing to
// re-announce. A nil list means there is nothing to announce.
type addrSource func() ([]net.Interface, []string)

type watcher struct {
	a        Announcement
	source   addrSource
	register func(Announcement) (io.Closer, error)
	log      *slog.Logger

	mu      sync.Mutex
	cur     io.Closer // the live announcement; nil while there is none
	set     []string  // the addresses cur was registered with (or last tried)
	closed  bool
	lastErr string // the last failure logged, to log each failure once

	stop chan struct{}
	done chan struct{} // closed when the loop ends; nil until start
	once sync.Once
}

func newWatcher(a Announcement, source addrSource, register func(Announcement) (io.Closer, error), log *slog.Logger) *watcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &watcher{a: a, source: source, register: register, log: log, stop: make(chan struct{})}
}

// start runs the loop that calls check every interval until Close.
func (w *watcher) start(every time.Duration) {
	if every <= 0 {
		every = WatchEvery
	}
	done := make(chan struct{})
	w.mu.Lock()
	w.done = done
	w.mu.Unlock()
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			again, err := w.check()
			w.mu.Lock()
			switch {
			case err != nil && err.Error() != w.lastErr:
				w.lastErr = err.Error()
				w.log.Warn("mDNS announcement failed; retrying while the network changes", "err", err)
			case err == nil && again:
				w.lastErr = ""
				w.log.Info("announced on the LAN again", "service", Service, "addrs", w.set)
			}
			w.mu.Unlock()
		}
	}()
}

// check compares the usable addresses with those announced; when they
// changed (or nothing is announced yet) it unannounces and registers again.
// It reports whether it registered.
func (w *watcher) check() (bool, error) {
	ifaces, set := w.source()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false, nil
	}
	if w.cur != nil && slices.Equal(set, w.set) {
		return false, nil
	}
	if w.cur != nil {
		w.log.Info("network addresses changed; announcing the class again", "was", w.set, "now", set)
		_ = w.cur.Close() // goodbye records for the old addresses
		w.cur = nil
	}
	w.set = set
	if len(set) == 0 {
		return false, errNoAddress
	}
	a := w.a
	a.Ifaces = ifaces
	c, err := w.register(a)
	if err != nil {
		return false, err
	}
	w.cur = c
	return true, nil
}

// Close stops watching and unannounces.
func (w *watcher) Close() error {
	w.once.Do(func() {
		close(w.stop)
		w.mu.Lock()
		done := w.done
		w.mu.Unlock()
		if done != nil {
			<-done
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		w.closed = true
		if w.cur != nil {
			_ = w.cur.Close()
			w.cur = nil
		}
	})
	return nil
}

// systemAddrs watches the interfaces of a (by name, so an interface that is
// re-created is followed), or every interface that is up and multicast-capable
// when a names none, as zeroconf does. With a.IPs the published addresses are
// fixed, and only the interfaces are watched.
func systemAddrs(a Announcement) addrSource {
	var names []string
	for _, ifi := range a.Ifaces {
		names = append(names, ifi.Name)
	}
	fixed := slices.Clone(a.IPs)
	slices.Sort(fixed)
	return func() ([]net.Interface, []string) {
		var ifaces []net.Interface
		if len(names) == 0 {
			all, err := net.Interfaces()
			if err != nil {
				return nil, nil
			}
			for _, ifi := range all {
				if ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 {
					ifaces = append(ifaces, ifi)
				}
			}
		} else {
			for _, n := range names {
				if ifi, err := net.InterfaceByName(n); err == nil && ifi.Flags&net.FlagUp != 0 {
					ifaces = append(ifaces, *ifi)
				}
			}
		}
		// Never hand zeroconf an empty list when interfaces were named: it
		// would take that as "every interface".
		if len(ifaces) == 0 {
			return nil, nil
		}
		if len(fixed) > 0 {
			set := slices.Clone(fixed)
			for _, ifi := range ifaces {
				set = append(set, fmt.Sprintf("%s#%d", ifi.Name, ifi.Index))
			}
			return ifaces, set
		}
		var set []string
		for _, ifi := range ifaces {
			addrs, err := ifi.Addrs()
			if err != nil {
				continue
			}
			set = append(set, usableAddrs(ifi, addrs)...)
		}
		slices.Sort(set)
		return ifaces, set
	}
}

// usableAddrs lists the addresses zeroconf would publish for ifi, as
// "name#index/ip": IPv4 and IPv6 unicast, not loopback. Link-local IPv6 is
// kept (zeroconf publishes it when there is no global one).
func usableAddrs(ifi net.Interface, addrs []net.Addr) []string {
	var out []string
	for _, ad := range addrs {
		ipn, ok := ad.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsUnspecified() {
			continue
		}
		if ipn.IP.To4() == nil && !ipn.IP.IsGlobalUnicast() && !ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		out = append(out, fmt.Sprintf("%s#%d/%s", ifi.Name, ifi.Index, ipn.IP))
	}
	return out
}
