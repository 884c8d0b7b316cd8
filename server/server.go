// Package server wires configuration, store, auth, chat, realtime, API and
// discovery into one Team Chat server with Start and Shutdown. It never
// imports the desktop shell.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"teamchat/frontend"
	"teamchat/server/api"
	"teamchat/server/auth"
	"teamchat/server/chat"
	"teamchat/server/config"
	"teamchat/server/discovery"
	"teamchat/server/files"
	"teamchat/server/model"
	"teamchat/server/realtime"
	"teamchat/server/store"
)

// ErrDataDirLocked means another Team Chat runs with the same data directory.
var ErrDataDirLocked = errors.New("data directory is in use by another Team Chat")

// DBFile is the database's name inside the data directory.
const DBFile = "teamchat.db"

// Server is one Team Chat server.
type Server struct {
	cfg    config.Config
	log    *slog.Logger
	lock   *os.File
	store  *store.Store
	chat   *chat.Service
	hub    *realtime.Hub
	api    *API
	http   *http.Server
	ln     net.Listener
	mdns   io.Closer
	ctx    context.Context
	cancel context.CancelFunc
	served chan error
	bgWG   sync.WaitGroup
	fp     string // SHA-256 of the TLS certificate when --tls
}

// API is the HTTP layer (an alias so callers need not import server/api).
type API = api.API

// New opens the data directory (creating it), locks it, and opens the database.
func New(cfg config.Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", cfg.DataDir, err)
	}
	lock, err := LockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, lock: lock, served: make(chan error, 1)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	ok := false
	defer func() {
		if !ok {
			s.cancel()
			if s.store != nil {
				s.store.Close()
			}
			lock.Close()
		}
	}()
	s.store, err = OpenStore(s.ctx, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	secret, err := auth.LoadOrCreateSecret(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	kv, err := s.store.Settings(s.ctx)
	if err != nil {
		return nil, err
	}
	blobs, err := files.New(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s.hub = realtime.NewHub()
	s.chat = chat.New(s.store, s.hub, auth.NewTokens(secret, kv[store.SettingInstallID]), log,
		chat.Options{MsgRate: cfg.MsgRate, MsgBurst: cfg.MsgBurst, BcryptCost: cfg.BcryptCost, Files: blobs, SignInRate: cfg.SignInRate,
			UploadRate: cfg.UploadRate, UploadBurst: cfg.UploadBurst})
	s.api = api.New(s.ctx, s.chat, log, cfg, frontend.Assets(), s)
	ok = true
	return s, nil
}

// OpenStore opens the data directory's database, refusing a corrupt one with
// advice, and writes the first-start defaults (settings, the General conversation).
func OpenStore(ctx context.Context, dataDir string) (*store.Store, error) {
	dbPath := filepath.Join(dataDir, DBFile)
	st, err := store.Open(ctx, dbPath)
	if err != nil {
		if errors.Is(err, store.ErrCorrupt) {
			return nil, fmt.Errorf("%w\nThe database failed its integrity check; Team Chat will not run on it.\n"+
				"Restore a backup: %s (or move %s away to start empty)", err, latestBackupHint(dataDir), dbPath)
		}
		return nil, err
	}
	err = st.InitSettings(ctx, map[string]string{
		store.SettingName:         "Team Chat",
		store.SettingRegistration: model.RegistrationCode,
		store.SettingJoinCode:     auth.JoinCode(),
		store.SettingGuestAccess:  "true",
		store.SettingGuestTTL:     "24",
		store.SettingInstallID:    auth.RandomToken(12),
		store.SettingPaused:       "false",
		store.SettingDMPolicy:     model.DMPolicyAnyone,
	})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("settings: %w", err)
	}
	return st, nil
}

// LockDataDir takes the data directory's exclusive lock (teamchat.lock).
func LockDataDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "teamchat.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s (is Team Chat already running? close it first)", ErrDataDirLocked, dir)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	return f, nil
}

// Chat is the chat service (for in-process callers such as the desktop host).
func (s *Server) Chat() *chat.Service { return s.chat }

// Store is the database.
func (s *Server) Store() *store.Store { return s.store }

// NeedsSetup is true while no admin account exists.
func (s *Server) NeedsSetup(ctx context.Context) (bool, error) {
	n, err := s.store.CountAdmins(ctx)
	return n == 0, err
}

// Setup creates the first admin and names the class.
func (s *Server) Setup(ctx context.Context, className, username, displayName, password string) (model.User, error) {
	return s.chat.SetupFirstAdmin(ctx, className, username, displayName, password)
}

// HostAdmin is the first enabled admin (the desktop host signs in as it).
func (s *Server) HostAdmin(ctx context.Context) (model.User, error) {
	return s.store.FirstAdmin(ctx)
}

// LoginTicket mints a one-time ticket for POST /api/v1/session/ticket.
func (s *Server) LoginTicket(ctx context.Context, userID int64) (string, error) {
	return s.chat.LoginTicket(ctx, userID)
}

// Handler is the HTTP handler (tests serve it with httptest).
func (s *Server) Handler() http.Handler { return s.api.Handler() }

// Start listens, serves in the background and announces the class on the LAN.
func (s *Server) Start() error {
	ln, err := s.listen()
	if err != nil {
		return err
	}
	if s.cfg.TLS {
		cert, fp, err := LoadTLS(s.cfg.DataDir, s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			ln.Close()
			return err
		}
		s.fp = fp
		ln = newDualListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		s.log.Info("TLS on the same port", "fingerprint", fp)
	}
	s.ln = ln
	s.chat.Start()
	s.http = &http.Server{
		Handler:           s.api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
	}
	go func() { s.served <- s.http.Serve(ln) }()
	s.bgWG.Add(1)
	go func() {
		defer s.bgWG.Done()
		s.backupLoop(s.ctx)
	}()
	s.log.Info("listening", "addr", ln.Addr().String(), "url", s.LocalURL())
	if s.cfg.Pprof != "" {
		if err := s.startPprof(); err != nil {
			s.log.Warn("pprof listener failed", "addr", s.cfg.Pprof, "err", err)
		}
	}
	if !s.cfg.NoMDNS {
		set, err := s.chat.Settings(s.ctx)
		id, _ := s.chat.InstallationID(s.ctx)
		if err == nil {
			// Re-announced when the host's addresses change (sleep, new DHCP lease).
			s.mdns, err = discovery.AnnounceWatching(discovery.Announcement{Instance: set.Name, Port: s.Port(), Name: set.Name, ID: id, Fingerprint: s.fp},
				discovery.WatchEvery, s.log)
		}
		if err != nil {
			s.log.Warn("mDNS announcement failed (retried when the network changes); students can still type the URL", "err", err)
		} else {
			s.log.Info("announced on the LAN", "service", "_teamchat._tcp", "name", set.Name)
		}
	}
	return nil
}

func (s *Server) listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err == nil || !s.cfg.PortFallback || !errors.Is(err, syscall.EADDRINUSE) {
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
		}
		return ln, nil
	}
	host, portStr, _ := net.SplitHostPort(s.cfg.Addr)
	port, _ := strconv.Atoi(portStr)
	for p := port + 1; p <= port+20 && p <= 65535; p++ {
		ln, err2 := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err2 == nil {
			s.log.Warn("port taken; using the next free one", "wanted", port, "using", p)
			return ln, nil
		}
	}
	return nil, fmt.Errorf("listen on %s and the next 20 ports: %w", s.cfg.Addr, err)
}

// Port is the TCP port being served.
func (s *Server) Port() int {
	if s.ln == nil {
		return 0
	}
	return s.ln.Addr().(*net.TCPAddr).Port
}

// Addr is the listening address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// LocalURL is the URL on this machine.
func (s *Server) LocalURL() string {
	host := "127.0.0.1"
	if a, ok := s.ln.Addr().(*net.TCPAddr); ok && !a.IP.IsUnspecified() {
		host = a.IP.String()
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(s.Port())) + "/"
}

// URLs lists the server's URLs on each LAN IPv4 address, loopback last.
func (s *Server) URLs() []string {
	port := strconv.Itoa(s.Port())
	a, _ := s.ln.Addr().(*net.TCPAddr)
	if a != nil && !a.IP.IsUnspecified() {
		return []string{"http://" + net.JoinHostPort(a.IP.String(), port) + "/"}
	}
	var lan []string
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, ad := range addrs {
			ipn, ok := ad.(*net.IPNet)
			if !ok || ipn.IP.To4() == nil || ipn.IP.IsLinkLocalUnicast() {
				continue
			}
			lan = append(lan, "http://"+net.JoinHostPort(ipn.IP.String(), port)+"/")
		}
	}
	sort.Strings(lan)
	return append(lan, "http://"+net.JoinHostPort("127.0.0.1", port)+"/")
}

// Fingerprint is the SHA-256 of the TLS certificate ("" without --tls).
func (s *Server) Fingerprint() string { return s.fp }

// Online is the number of users with an open socket.
func (s *Server) Online() int { return s.hub.Online() }

// Done delivers the serve loop's end (an error unless it was shut down).
func (s *Server) Done() <-chan error { return s.served }

// Shutdown stops announcing, stops accepting, commits what is queued, closes
// every socket with 1001 and closes the database. It is safe to call once.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	if s.mdns != nil {
		errs = append(errs, s.mdns.Close())
	}
	if s.http != nil {
		// Stop accepting; hijacked WebSockets are closed by the hub below.
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
	}
	s.chat.Stop() // every queued message is committed and acked
	s.hub.Close(1001, "server shutting down", ctx.Done())
	s.api.WaitSockets()
	s.cancel()
	s.bgWG.Wait()
	if s.http != nil && s.cfg.BackupEvery > 0 {
		if _, err := s.AutoBackup(context.Background()); err != nil {
			errs = append(errs, fmt.Errorf("backup at shutdown: %w", err))
		}
	}
	errs = append(errs, s.store.Close())
	errs = append(errs, s.lock.Close())
	s.log.Info("stopped")
	return errors.Join(errs...)
}
