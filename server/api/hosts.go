package api

import (
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// hostGuard refuses requests whose Host header names none of this server's
// names or addresses, so a page on another site cannot reach the server through
// DNS rebinding. Allowed: loopback addresses and localhost, every address of the
// machine's interfaces (re-read every 10 s, so a new DHCP lease is picked up),
// the machine's name and <name>.local (mDNS), the hosts of --origin, and --host.
type hostGuard struct {
	extra map[string]bool

	mu      sync.Mutex
	addrs   map[string]bool
	fetched time.Time
}

func newHostGuard(extraHosts, origins []string) *hostGuard {
	g := &hostGuard{extra: map[string]bool{"localhost": true}}
	if name, err := os.Hostname(); err == nil && name != "" {
		name = strings.ToLower(name)
		g.extra[name] = true
		g.extra[strings.TrimSuffix(name, ".local")+".local"] = true
	}
	for _, h := range extraHosts {
		g.extra[strings.ToLower(h)] = true
	}
	for _, o := range origins {
		if i := strings.Index(o, "://"); i >= 0 {
			host := o[i+3:]
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			g.extra[strings.Trim(host, "[]")] = true
		}
	}
	return g
}

func (g *hostGuard) localAddrs() map[string]bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if time.Since(g.fetched) < 10*time.Second && g.addrs != nil {
		return g.addrs
	}
	m := map[string]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				m[ipn.IP.String()] = true
			}
		}
	}
	g.addrs, g.fetched = m, time.Now()
	return m
}

// allowed reports whether the Host header names this server.
func (g *hostGuard) allowed(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "" {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() || ip.IsUnspecified() {
			return ip.IsLoopback()
		}
		if i := strings.IndexByte(host, '%'); i >= 0 {
			host = host[:i]
		}
		return g.localAddrs()[ip.String()]
	}
	return g.extra[host]
}

// connLimiter counts open WebSockets per client address.
type connLimiter struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

func (l *connLimiter) acquire(addr string) bool {
	if l.max <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[addr] >= l.max {
		return false
	}
	l.n[addr]++
	return true
}

func (l *connLimiter) release(addr string) {
	if l.max <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[addr]--; l.n[addr] <= 0 {
		delete(l.n, addr)
	}
}
