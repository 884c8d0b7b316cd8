// Package discovery announces a class on the LAN with mDNS/DNS-SD and finds the
// classes announced by others (grandcat/zeroconf underneath).
//
// The wire contract (docs/api.md, "LAN discovery"): service _teamchat._tcp in the
// local. domain, the server's port, and TXT records v=1, name=<class name>, path=/,
// id=<installation id>.
package discovery

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/grandcat/zeroconf"
)

const (
	// Service is the DNS-SD service type of a Team Chat server.
	Service = "_teamchat._tcp"
	// Domain is the mDNS domain.
	Domain = "local."
	// Version is the TXT v= value of this contract.
	Version = "1"

	maxLabel = 63  // bytes in a DNS label (the instance name)
	maxTXT   = 255 // bytes in one TXT string
)

// Announcement describes what the server publishes.
type Announcement struct {
	Instance string // DNS-SD instance name; defaults to Name
	Port     int    // TCP port of the HTTP server
	Name     string // class name (TXT name=)
	ID       string // installation id (TXT id=)
	// Fingerprint, when set, is the SHA-256 of the TLS certificate (TXT tls=1, fp=).
	Fingerprint string
	Host        string   // optional: unique host name (default: os.Hostname())
	IPs         []string // optional: addresses to publish (default: those of Ifaces)
	// Ifaces limits the announcement to these interfaces (default: every
	// interface that is up and multicast-capable).
	Ifaces []net.Interface
}

// Announce publishes _teamchat._tcp on local. with TXT v=1, name=<Name>, path=/,
// id=<ID>. Close unannounces (sends the goodbye records) and releases the sockets.
func Announce(a Announcement) (io.Closer, error) {
	if a.Port <= 0 || a.Port > 65535 {
		return nil, fmt.Errorf("discovery: bad port %d", a.Port)
	}
	instance := a.Instance
	if strings.TrimSpace(instance) == "" {
		instance = a.Name
	}
	if strings.TrimSpace(instance) == "" {
		instance = "Team Chat"
	}
	txt := TXT(a.Name, a.ID, a.Fingerprint)
	for i := range txt {
		// zeroconf packs TXT strings in presentation form: keep backslashes literal.
		txt[i] = strings.ReplaceAll(txt[i], `\`, `\\`)
	}
	name := escapeLabel(truncate(strings.TrimSpace(instance), maxLabel))

	var (
		srv *zeroconf.Server
		err error
	)
	if a.Host == "" && len(a.IPs) == 0 {
		srv, err = zeroconf.Register(name, Service, Domain, a.Port, txt, a.Ifaces)
	} else {
		host := a.Host
		if host == "" {
			if host, err = os.Hostname(); err != nil {
				return nil, fmt.Errorf("discovery: host name: %w", err)
			}
		}
		ips := a.IPs
		if len(ips) == 0 {
			ips = interfaceIPs(a.Ifaces)
		}
		if len(ips) == 0 {
			return nil, errors.New("discovery: no IP address to announce")
		}
		srv, err = zeroconf.RegisterProxy(name, Service, Domain, a.Port, host, ips, txt, a.Ifaces)
	}
	if err != nil {
		return nil, fmt.Errorf("discovery: announce %q: %w", instance, err)
	}
	return &announcer{srv: srv}, nil
}

// TXT returns the TXT strings of the contract for a class.
func TXT(name, id, fingerprint string) []string {
	txt := []string{
		"v=" + Version,
		truncate("name="+name, maxTXT),
		"path=/",
		truncate("id="+id, maxTXT),
	}
	if fingerprint != "" {
		// The server also speaks TLS on the same port; fp is the SHA-256 of its
		// certificate, for clients that pin it.
		txt = append(txt, "tls=1", "fp="+fingerprint)
	}
	return txt
}

type announcer struct {
	once sync.Once
	srv  *zeroconf.Server
}

// Close sends the goodbye packets and closes the sockets; it is idempotent.
func (a *announcer) Close() error {
	a.once.Do(a.srv.Shutdown)
	return nil
}

// interfaceIPs lists the non-loopback addresses of ifaces (all multicast
// interfaces when empty); IPv4 first.
func interfaceIPs(ifaces []net.Interface) []string {
	if len(ifaces) == 0 {
		all, err := net.Interfaces()
		if err != nil {
			return nil
		}
		for _, ifi := range all {
			if ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 {
				ifaces = append(ifaces, ifi)
			}
		}
	}
	var v4, v6 []string
	for _, ifi := range ifaces {
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.IsLoopback() {
				continue
			}
			if ipn.IP.To4() != nil {
				v4 = append(v4, ipn.IP.String())
			} else if ipn.IP.IsGlobalUnicast() {
				v6 = append(v6, ipn.IP.String())
			}
		}
	}
	return append(v4, v6...)
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// escapeLabel writes a raw DNS label in the presentation form miekg/dns
// produces when it unpacks one, so that zeroconf's string comparisons of
// instance names match the names in incoming queries (avahi resolving the
// instance asks for its SRV and TXT by name).
func escapeLabel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' || c == '(' || c == ')' || c == ';' || c == ' ' || c == '@' || c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescape turns miekg/dns presentation form (\X and \DDD escapes) back into
// the raw bytes of a label or TXT string.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b = append(b, c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if v <= 255 {
				b = append(b, byte(v))
				i += 3
				continue
			}
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
