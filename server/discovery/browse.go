package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grandcat/zeroconf"
)

// Entry is one class seen on the LAN.
type Entry struct {
	Instance string   `json:"instance"` // DNS-SD instance name
	Name     string   `json:"name"`     // class name (TXT name=)
	ID       string   `json:"id"`       // installation id (TXT id=)
	Path     string   `json:"path"`     // TXT path= ("/" when absent)
	Version  string   `json:"v"`        // TXT v=
	Host     string   `json:"host"`     // target host name, without the trailing dot
	Port     int      `json:"port"`
	Addrs    []string `json:"addrs"` // IPv4 first, then IPv6
	// Fingerprint is TXT fp=: the SHA-256 of the server's TLS certificate, when it speaks TLS.
	Fingerprint string `json:"fp,omitempty"`
}

// Key identifies an entry across refreshes.
func (e Entry) Key() string { return e.Instance }

// URL is the address a browser should open for the entry: the first usable
// address (IPv4 preferred), the port and the path; "" when there is none.
func (e Entry) URL() string {
	for _, a := range e.Addrs {
		ip := net.ParseIP(a)
		if ip == nil || ip.IsUnspecified() || (ip.To4() == nil && ip.IsLinkLocalUnicast()) {
			continue // a link-local IPv6 address is useless without its zone
		}
		path := e.Path
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		u := url.URL{Scheme: "http", Host: net.JoinHostPort(a, strconv.Itoa(e.Port)), Path: path}
		return u.String()
	}
	return ""
}

func (e Entry) equal(o Entry) bool {
	return e.Instance == o.Instance && e.Name == o.Name && e.ID == o.ID && e.Path == o.Path &&
		e.Version == o.Version && e.Host == o.Host && e.Port == o.Port && slices.Equal(e.Addrs, o.Addrs) &&
		e.Fingerprint == o.Fingerprint
}

// Browse calls found for each class seen (and again when it changes) until ctx ends.
// It uses every multicast interface; see Browser for more control.
func Browse(ctx context.Context, found func(Entry)) error {
	return Browser{Found: found}.Run(ctx)
}

// Browser watches the LAN for classes.
//
// zeroconf's resolver reports each instance once per resolver and stops
// querying after the first answer, so Run works in rounds: every Round it
// starts a fresh resolver, which queries again and reports every class that
// answers. A class that is new or changed goes to Found; one that stayed silent
// for two whole rounds goes to Lost.
type Browser struct {
	Ifaces []net.Interface // default: every interface that is up and multicast-capable
	Round  time.Duration   // default 4 s
	Found  func(Entry)     // required
	Lost   func(Entry)     // optional
}

// Run browses until ctx ends; it returns nil then, or an error when mDNS
// cannot be used at all (no multicast interface, port 5353 unavailable) in
// the first round. Later failures are retried every round.
func (b Browser) Run(ctx context.Context) error {
	if b.Found == nil {
		return errors.New("discovery: Browser.Found is nil")
	}
	round := b.Round
	if round <= 0 {
		round = 4 * time.Second
	}
	type seen struct {
		entry Entry
		round int
	}
	known := map[string]seen{}
	for n := 0; ; n++ {
		err := b.round(ctx, round, func(e Entry) {
			old, ok := known[e.Key()]
			known[e.Key()] = seen{entry: e, round: n}
			if !ok || !old.entry.equal(e) {
				b.Found(e)
			}
		})
		if err != nil {
			if n == 0 {
				return err // mDNS cannot work here at all
			}
			// The network changed under us (Wi-Fi off, interface gone):
			// keep trying, the classes will come back with it.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(round):
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		for k, s := range known {
			if n-s.round >= 2 {
				delete(known, k)
				if b.Lost != nil {
					b.Lost(s.entry)
				}
			}
		}
	}
}

// round runs one resolver for d (or until ctx ends) and reports what it sees.
func (b Browser) round(ctx context.Context, d time.Duration, report func(Entry)) error {
	res, err := newResolver(b.Ifaces)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	ch := make(chan *zeroconf.ServiceEntry, 16)
	if err := res.Browse(rctx, Service, Domain, ch); err != nil {
		return fmt.Errorf("discovery: browse: %w", err)
	}
	// The resolver closes ch when rctx ends.
	for se := range ch {
		report(fromService(se))
	}
	return nil
}

// newResolver prefers IPv4 and IPv6, and falls back to IPv4 alone when IPv6
// is unavailable (zeroconf fails as a whole when one family cannot join).
func newResolver(ifaces []net.Interface) (*zeroconf.Resolver, error) {
	var opt zeroconf.ClientOption
	if len(ifaces) > 0 {
		opt = zeroconf.SelectIfaces(ifaces)
	}
	res, err := zeroconf.NewResolver(opt)
	if err == nil {
		return res, nil
	}
	res, err4 := zeroconf.NewResolver(opt, zeroconf.SelectIPTraffic(zeroconf.IPv4))
	if err4 != nil {
		return nil, fmt.Errorf("discovery: cannot listen for mDNS: %w", err)
	}
	return res, nil
}

func fromService(se *zeroconf.ServiceEntry) Entry {
	e := Entry{
		Instance: unescape(se.Instance),
		Host:     strings.TrimSuffix(unescape(se.HostName), "."),
		Port:     se.Port,
		Path:     "/",
	}
	for _, t := range se.Text {
		k, v, _ := strings.Cut(unescape(t), "=")
		switch strings.ToLower(k) {
		case "v":
			e.Version = v
		case "name":
			e.Name = v
		case "id":
			e.ID = v
		case "fp":
			e.Fingerprint = strings.ToLower(v)
		case "path":
			if v != "" {
				e.Path = v
			}
		}
	}
	seen := map[string]bool{}
	for _, ip := range se.AddrIPv4 {
		if s := ip.String(); !seen[s] {
			seen[s] = true
			e.Addrs = append(e.Addrs, s)
		}
	}
	for _, ip := range se.AddrIPv6 {
		if s := ip.String(); !seen[s] {
			seen[s] = true
			e.Addrs = append(e.Addrs, s)
		}
	}
	if e.Name == "" {
		e.Name = e.Instance
	}
	return e
}

// InterfacesByName resolves interface names (for --iface options).
func InterfacesByName(names []string) ([]net.Interface, error) {
	var out []net.Interface
	for _, n := range names {
		ifi, err := net.InterfaceByName(n)
		if err != nil {
			return nil, fmt.Errorf("interface %q: %w", n, err)
		}
		out = append(out, *ifi)
	}
	return out, nil
}
