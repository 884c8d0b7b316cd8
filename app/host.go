package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"teamchat/server/config"
	"teamchat/server/model"
)

// hostServer is what the host window needs from the embedded server
// (*server.Server).
type hostServer interface {
	NeedsSetup(ctx context.Context) (bool, error)
	Setup(ctx context.Context, className, username, displayName, password string) (model.User, error)
	HostAdmin(ctx context.Context) (model.User, error)
	Start() error
	LocalURL() string
	LoginTicket(ctx context.Context, userID int64) (string, error)
}

// Host phases, as the embedded page sees them.
const (
	PhaseSetup = "setup" // first run: create the admin and name the class
	PhaseReady = "ready" // the server runs: open the console
	PhaseError = "error" // the server cannot run (e.g. another instance holds the data dir)
)

// HostState is what the host page shows.
type HostState struct {
	Phase   string `json:"phase"`
	Error   string `json:"error"`
	DataDir string `json:"data_dir"`
	Version string `json:"version"`
}

// Host is bound into the professor's window.
type Host struct {
	log     *slog.Logger
	dataDir string

	mu      sync.Mutex
	srv     hostServer // nil when the server could not be created
	phase   string
	err     string
	started bool
	shown   string // the phase the page last asked for (logged once per change)
}

func newHost(log *slog.Logger, dataDir string) *Host {
	return &Host{log: log, dataDir: dataDir}
}

// prepare decides the first phase: setup on first run, otherwise start the
// server at once so the console opens without a click.
func (h *Host) prepare(ctx context.Context, srv hostServer) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.srv = srv
	need, err := srv.NeedsSetup(ctx)
	if err != nil {
		return h.failLocked(fmt.Errorf("reading the data directory: %w", err))
	}
	if need {
		h.phase = PhaseSetup
		h.log.Info("first run: waiting for the professor to create the class in the window")
		return nil
	}
	return h.startLocked()
}

// fail records an error that keeps the server from running; the page shows it.
func (h *Host) fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failLocked(err)
}

func (h *Host) failLocked(err error) error {
	h.phase = PhaseError
	h.err = err.Error()
	return err
}

func (h *Host) startLocked() error {
	if err := h.srv.Start(); err != nil {
		return h.failLocked(fmt.Errorf("starting the server: %w", err))
	}
	h.started = true
	h.phase = PhaseReady
	return nil
}

// State tells the page what to show.
func (h *Host) State() HostState {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shown != h.phase {
		h.shown = h.phase
		h.log.Info("window page", "phase", h.phase)
	}
	return HostState{Phase: h.phase, Error: h.err, DataDir: h.dataDir, Version: config.Version}
}

// Setup creates the first admin account and names the class, then starts the
// server. It works only while no admin exists (first run).
func (h *Host) Setup(className, displayName, username, password string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.phase != PhaseSetup || h.srv == nil {
		return errors.New("the class is already set up")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	need, err := h.srv.NeedsSetup(ctx)
	if err != nil {
		return err
	}
	if !need {
		return errors.New("the class is already set up")
	}
	u, err := h.srv.Setup(ctx, strings.TrimSpace(className), strings.TrimSpace(username), strings.TrimSpace(displayName), password)
	if err != nil {
		return err // model validation errors read well as they are
	}
	h.log.Info("class set up", "admin", u.Username)
	return h.startLocked()
}

// OpenConsole returns the URL that signs the professor in (one-time ticket)
// and shows the console: LocalURL?ticket=T#console.
func (h *Host) OpenConsole() (string, error) {
	h.mu.Lock()
	srv, started := h.srv, h.started
	h.mu.Unlock()
	if !started {
		return "", errors.New("the server is not running")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := srv.HostAdmin(ctx)
	if err != nil {
		return "", fmt.Errorf("finding the professor's account: %w", err)
	}
	ticket, err := srv.LoginTicket(ctx, admin.ID)
	if err != nil {
		return "", fmt.Errorf("signing in: %w", err)
	}
	h.log.Info("opening the console in the window", "user", admin.Username)
	return consoleURL(srv.LocalURL(), ticket), nil
}

func consoleURL(local, ticket string) string {
	if !strings.HasSuffix(local, "/") {
		local += "/"
	}
	return local + "?ticket=" + url.QueryEscape(ticket) + "#console"
}
