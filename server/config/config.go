// Package config turns flags and environment variables into one validated Config.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Version is set at link time (-X teamchat/server/config.Version=...).
var Version = "dev"

// Config is everything the server needs to start.
type Config struct {
	Addr          string   // listen address, HOST:PORT
	DataDir       string   // where the database, secrets and backups live
	NoMDNS        bool     // do not announce on the LAN
	Origins       []string // extra allowed browser origins (scheme://host[:port])
	PortFallback  bool     // if the port is taken, try the next ones (desktop host)
	MsgRate       float64  // messages per second per user (0 disables the limit)
	MsgBurst      int      // burst for MsgRate
	SignInRate    float64  // password checks per client address per minute, also the burst (0 = unlimited)
	UploadRate    float64  // uploads per minute per user (0 disables the limit)
	UploadBurst   int      // burst for UploadRate
	BcryptCost    int      // password hashing cost
	ShutdownGrace time.Duration
	Hosts         []string // extra host names the server answers to (DNS-rebinding allowlist)
	MaxConnsPerIP int      // open WebSockets per client address (0 = unlimited)
	BackupEvery   time.Duration
	BackupKeep    int
	TLS           bool   // also serve HTTPS on the same port
	TLSCert       string // certificate file; empty: a self-signed one kept in the data dir
	TLSKey        string
	Pprof         string // debug listener for net/http/pprof, loopback only; empty: none
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		Addr:          "0.0.0.0:8080",
		DataDir:       DefaultDataDir(),
		MsgRate:       10,
		MsgBurst:      20,
		SignInRate:    30,
		UploadRate:    20,
		UploadBurst:   10,
		BcryptCost:    10,
		ShutdownGrace: 10 * time.Second,
		MaxConnsPerIP: 32,
		BackupEvery:   time.Hour,
		BackupKeep:    24,
	}
}

// DefaultDataDir is teamchat/ inside the user's config directory.
func DefaultDataDir() string {
	dir, err := os.UserConfigDir()
	if err != nil || dir == "" {
		return ".teamchat"
	}
	return filepath.Join(dir, "teamchat")
}

// originList collects repeated --origin flags.
type originList []string

func (o *originList) String() string { return strings.Join(*o, ",") }
func (o *originList) Set(v string) error {
	*o = append(*o, v)
	return nil
}

// RegisterFlags binds the server flags shared by `serve` and host mode to fs.
// Environment variables TEAMCHAT_ADDR and TEAMCHAT_DATA provide the defaults.
func RegisterFlags(fs *flag.FlagSet, c *Config) {
	if v := os.Getenv("TEAMCHAT_ADDR"); v != "" {
		c.Addr = v
	}
	if v := os.Getenv("TEAMCHAT_DATA"); v != "" {
		c.DataDir = v
	}
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address HOST:PORT (env TEAMCHAT_ADDR)")
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data directory (env TEAMCHAT_DATA)")
	fs.BoolVar(&c.NoMDNS, "no-mdns", c.NoMDNS, "do not announce the class on the LAN")
	fs.Var((*originList)(&c.Origins), "origin", "extra allowed browser origin, e.g. https://chat.example.edu (repeatable)")
	fs.Float64Var(&c.MsgRate, "msg-rate", c.MsgRate, "messages per second per user (0 = unlimited)")
	fs.IntVar(&c.MsgBurst, "msg-burst", c.MsgBurst, "message burst per user")
	fs.Float64Var(&c.SignInRate, "signin-rate", c.SignInRate, "sign-ins (password checks) per client address per minute, also the burst; 0 = unlimited, for load tests")
	fs.Float64Var(&c.UploadRate, "upload-rate", c.UploadRate, "attachment uploads per minute per user (0 = unlimited)")
	fs.IntVar(&c.UploadBurst, "upload-burst", c.UploadBurst, "attachment uploads at once per user")
	fs.Var((*originList)(&c.Hosts), "host", "extra host name the server answers to, e.g. chat.school.example (repeatable)")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", c.MaxConnsPerIP, "open WebSockets per client address (0 = unlimited)")
	fs.DurationVar(&c.BackupEvery, "backup-every", c.BackupEvery, "automatic backup interval (0 = off; one is also made at shutdown)")
	fs.IntVar(&c.BackupKeep, "backup-keep", c.BackupKeep, "automatic backups to keep")
	fs.BoolVar(&c.TLS, "tls", c.TLS, "also serve HTTPS on the same port (self-signed certificate made on first run unless --tls-cert/--tls-key)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "TLS certificate file (PEM)")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "TLS private key file (PEM)")
	fs.StringVar(&c.Pprof, "pprof", c.Pprof, "serve Go profiles (net/http/pprof) on this loopback HOST:PORT, e.g. 127.0.0.1:6060")
}

// Validate checks the configuration and normalizes origins.
func (c *Config) Validate() error {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("--addr %q: want HOST:PORT", c.Addr)
	}
	if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		return fmt.Errorf("--addr %q: host must be an IP address or localhost", c.Addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("--addr %q: bad port", c.Addr)
	}
	if c.DataDir == "" {
		return errors.New("--data must not be empty")
	}
	for i, o := range c.Origins {
		n, err := NormalizeOrigin(o)
		if err != nil {
			return fmt.Errorf("--origin %q: %w", o, err)
		}
		c.Origins[i] = n
	}
	if c.MsgRate < 0 || c.MsgBurst < 0 {
		return errors.New("--msg-rate and --msg-burst must not be negative")
	}
	if c.SignInRate < 0 {
		return errors.New("--signin-rate must not be negative")
	}
	if c.MsgRate > 0 && c.MsgBurst < 1 {
		c.MsgBurst = 1
	}
	if c.UploadRate < 0 || c.UploadBurst < 0 {
		return errors.New("--upload-rate and --upload-burst must not be negative")
	}
	if c.BcryptCost == 0 {
		c.BcryptCost = 10
	}
	for i, h := range c.Hosts {
		h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
		if h == "" || strings.ContainsAny(h, "/:@ ") {
			return fmt.Errorf("--host %q: want a host name", c.Hosts[i])
		}
		c.Hosts[i] = h
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if c.TLSCert != "" {
		c.TLS = true
	}
	if c.MaxConnsPerIP < 0 || c.BackupEvery < 0 || c.BackupKeep < 0 {
		return errors.New("--max-conns-per-ip, --backup-every and --backup-keep must not be negative")
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 10 * time.Second
	}
	if c.Pprof != "" {
		h, _, err := net.SplitHostPort(c.Pprof)
		if ip := net.ParseIP(h); err != nil || ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("--pprof %q: want a loopback HOST:PORT such as 127.0.0.1:6060", c.Pprof)
		}
	}
	return nil
}

// NormalizeOrigin returns scheme://host[:port] in lower case, without a default port.
func NormalizeOrigin(o string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", errors.New("want scheme://host[:port]")
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return "", errors.New("an origin has no path, query or user")
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		return scheme + "://" + net.JoinHostPort(host, port), nil
	}
	if strings.Contains(host, ":") {
		return scheme + "://[" + host + "]", nil
	}
	return scheme + "://" + host, nil
}
