package app

import (
	"cmp"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"teamchat/server/discovery"
	"teamchat/server/pinproxy"
)

// searchFor is how long client mode says "searching" before it says that
// nothing was found (and keeps listening).
const searchFor = 5 * time.Second

// Join is bound into the client-mode window: the embedded page polls State
// and calls Open with the URL the student picked or typed.
type Join struct {
	log     *slog.Logger
	initial string // URL given on the command line: opened at once, once
	now     func() time.Time

	mu      sync.Mutex
	started time.Time
	classes map[string]discovery.Entry
	err     string
	shown   int                        // how many classes the page was last given (logged once per change)
	proxies map[string]*pinproxy.Proxy // https target → pinned local proxy
}

func newJoin(log *slog.Logger, initial string) *Join {
	return &Join{log: log, initial: initial, now: time.Now, started: time.Now(), classes: map[string]discovery.Entry{}}
}

// Class is one class as the page lists it.
type Class struct {
	Key        string   `json:"key"`
	Name       string   `json:"name"`
	Host       string   `json:"host"`
	Addrs      []string `json:"addrs"`
	Port       int      `json:"port"`
	URL        string   `json:"url"`
	Compatible bool     `json:"compatible"` // TXT v=1 (this app speaks version 1)
	Pinned     bool     `json:"pinned"`     // the class speaks TLS with an announced fingerprint
}

// JoinState is what the client page shows.
type JoinState struct {
	Classes   []Class `json:"classes"`
	Searching bool    `json:"searching"` // still within the first seconds
	Error     string  `json:"error"`     // mDNS unusable (the URL field still works)
	Open      string  `json:"open"`      // URL to open at once (command line)
}

// State lists the classes found so far, by name.
func (j *Join) State() JoinState {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := JoinState{
		Classes:   []Class{},
		Searching: j.now().Sub(j.started) < searchFor,
		Error:     j.err,
		Open:      j.initial,
	}
	j.initial = "" // opened once; back on the list (menu) the page stays there
	for k, e := range j.classes {
		st.Classes = append(st.Classes, Class{
			Key: k, Name: e.Name, Host: e.Host, Addrs: usableAddrs(e.Addrs), Port: e.Port, URL: e.URL(),
			Compatible: e.Version == discovery.Version, Pinned: e.Fingerprint != "",
		})
	}
	if len(st.Classes) != j.shown {
		j.shown = len(st.Classes)
		j.log.Info("window lists classes", "count", j.shown)
	}
	slices.SortFunc(st.Classes, func(a, b Class) int {
		return cmp.Or(strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), strings.Compare(a.Key, b.Key))
	})
	return st
}

// Open checks a URL the student picked or typed and returns the absolute URL
// the window should load; the page then navigates to it.
func (j *Join) Open(raw string) (string, error) {
	u, err := NormalizeURL(raw)
	if err != nil {
		return "", err
	}
	if e, ok := j.byURL(u); ok && e.Fingerprint != "" {
		return j.openPinned(u, e)
	}
	j.log.Info("opening class", "url", u)
	return u, nil
}

func (j *Join) byURL(u string) (discovery.Entry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, e := range j.classes {
		if e.URL() == u {
			return e, true
		}
	}
	return discovery.Entry{}, false
}

// openPinned opens a class that announced a TLS fingerprint through a local
// proxy that accepts only that certificate (a look-alike announcing the same
// name cannot present it).
func (j *Join) openPinned(u string, e discovery.Entry) (string, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	target := "https://" + pu.Host
	j.mu.Lock()
	defer j.mu.Unlock()
	if p, ok := j.proxies[target]; ok {
		return p.URL(), nil
	}
	p, err := pinproxy.Start(target, e.Fingerprint, j.log)
	if err != nil {
		return "", err
	}
	if j.proxies == nil {
		j.proxies = map[string]*pinproxy.Proxy{}
	}
	j.proxies[target] = p
	j.log.Info("opening class over pinned TLS", "url", target, "fingerprint", e.Fingerprint, "via", p.URL())
	return p.URL(), nil
}

// close stops the pinned proxies.
func (j *Join) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	for k, p := range j.proxies {
		_ = p.Close()
		delete(j.proxies, k)
	}
}

// usableAddrs drops link-local IPv6 addresses, which cannot be opened
// without their zone and only clutter the list.
func usableAddrs(addrs []string) []string {
	out := []string{}
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil && ip.To4() == nil && ip.IsLinkLocalUnicast() {
			continue
		}
		out = append(out, a)
	}
	return out
}

func (j *Join) found(e discovery.Entry) {
	j.log.Info("class found", "name", e.Name, "host", e.Host, "addrs", strings.Join(e.Addrs, ","),
		"port", strconv.Itoa(e.Port), "id", e.ID, "url", e.URL())
	j.mu.Lock()
	j.classes[e.Key()] = e
	j.mu.Unlock()
}

func (j *Join) lost(e discovery.Entry) {
	j.log.Info("class gone", "name", e.Name, "host", e.Host)
	j.mu.Lock()
	delete(j.classes, e.Key())
	j.mu.Unlock()
}

func (j *Join) browseFailed(err error) {
	j.log.Warn("LAN discovery unavailable", "err", err)
	j.mu.Lock()
	j.err = "Searching the network is not possible here (" + err.Error() + "). Type the address the professor shows."
	j.mu.Unlock()
}
