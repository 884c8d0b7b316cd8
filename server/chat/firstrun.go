package chat

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"math/big"
	"net/netip"
	"strings"
	"sync"
	"time"

	"teamchat/server/auth"
	"teamchat/server/model"
)

// The headless server's first run: while no admin exists, the professor
// creates the class in the browser with a one-time setup code that only the
// server's terminal shows (the desktop host asks in its own window before the
// server listens, so it needs none).
//
// The code is 10 characters of the class code's alphabet (31 characters, no
// look-alikes), about 49.5 bits, shown as two groups of five. Wrong codes are
// counted per source (an IPv4 address, or an IPv6 /64, so one machine cannot
// multiply itself over its own prefix) and over every source together, so
// many addresses cannot multiply the guesses either: at most
// setupAllFailures wrong codes per setupWindow in all, which leaves a guesser
// about 2^49.5 / 120 hours. The all-sources cap does not apply to loopback:
// whoever sits at the server (and reads its terminal) is never locked out by
// guessers on the Wi-Fi.
const (
	SetupCodeLen        = 10
	setupSourceFailures = 5
	setupAllFailures    = 30
	setupWindow         = 15 * time.Minute
	setupAlphabet       = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
)

var (
	errSetupDone  = model.Conflict("this class is already set up: sign in")
	errSetupWrong = model.Forbidden("wrong setup code")
)

type firstRun struct {
	mu     sync.Mutex // guards code, admin, done, the limiters
	code   string     // "" when no setup is pending (never opened, done, or an admin appeared)
	admin  model.User // who set the class up (after done)
	done   chan struct{}
	src    *auth.FailureLimiter
	all    *auth.FailureLimiter
	warned bool

	create sync.Mutex // held while the admin is created: concurrent attempts queue, one wins
}

// SetupInput is the first-run form.
type SetupInput struct {
	Code        string `json:"setup_code"`
	ClassName   string `json:"class_name"`
	DisplayName string `json:"display_name"`
	Username    string `json:"username"`
	Password    string `json:"password"`
}

// newSetupCode draws SetupCodeLen characters uniformly (no modulo bias).
func newSetupCode() string {
	b := make([]byte, SetupCodeLen)
	n := big.NewInt(int64(len(setupAlphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, n)
		if err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		b[i] = setupAlphabet[v.Int64()]
	}
	return string(b)
}

// FormatSetupCode groups a code for reading: ABCDE-FGHJK.
func FormatSetupCode(c string) string {
	if len(c) != SetupCodeLen {
		return c
	}
	return c[:SetupCodeLen/2] + "-" + c[SetupCodeLen/2:]
}

// normalizeSetupCode accepts what people type: any case, spaces and dashes.
func normalizeSetupCode(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '\t':
			return -1
		}
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// setupSource is the key wrong codes are counted under: the IPv4 address, or
// the IPv6 /64 (one host typically holds a whole /64; link-local zones and
// IPv4-mapped forms are folded, so they cannot make new sources either).
func setupSource(addr string) (key string, loopback bool) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return "s:" + addr, false
	}
	a = a.WithZone("").Unmap()
	if a.Is4() {
		return "s:" + a.String(), a.IsLoopback()
	}
	p, _ := a.Prefix(64)
	return "s:" + p.String(), a.IsLoopback()
}

// OpenFirstRun makes a setup code when no admin exists and returns it
// (formatted); "" when the class is set up. A new code replaces any earlier
// one. The code lives only in memory: a restart before setup makes a new one.
func (s *Service) OpenFirstRun(ctx context.Context) (string, error) {
	n, err := s.st.CountAdmins(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	f := &s.first
	f.mu.Lock()
	defer f.mu.Unlock()
	f.code = newSetupCode()
	f.done = make(chan struct{})
	f.src = auth.NewFailureLimiter(setupSourceFailures, setupWindow)
	f.all = auth.NewFailureLimiter(setupAllFailures, setupWindow)
	f.warned = false
	return FormatSetupCode(f.code), nil
}

// FirstRunDone is closed once the first-run setup is over (through the
// browser, or an admin made otherwise and noticed by FirstRunPending); nil
// when no setup was opened.
func (s *Service) FirstRunDone() <-chan struct{} {
	s.first.mu.Lock()
	defer s.first.mu.Unlock()
	return s.first.done
}

// FirstRunAdmin is the admin the browser setup created (zero if none).
func (s *Service) FirstRunAdmin() model.User {
	s.first.mu.Lock()
	defer s.first.mu.Unlock()
	return s.first.admin
}

// FirstRunPending reports whether the first-run setup is open. An admin made
// meanwhile (teamchat user add) ends it: the code is dropped.
func (s *Service) FirstRunPending(ctx context.Context) (bool, error) {
	f := &s.first
	f.mu.Lock()
	open := f.code != ""
	f.mu.Unlock()
	if !open {
		return false, nil
	}
	n, err := s.st.CountAdmins(ctx)
	if err != nil {
		return false, err
	}
	if n > 0 {
		s.endFirstRun(model.User{})
		return false, nil
	}
	return true, nil
}

// endFirstRun drops the code and tells FirstRunDone's readers (once).
func (s *Service) endFirstRun(admin model.User) {
	f := &s.first
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.code == "" {
		return
	}
	f.code = ""
	f.admin = admin
	close(f.done)
}

// checkSetupCode counts and refuses wrong codes; a blocked source is refused
// even with the right code, so the limit cannot be probed around.
func (s *Service) checkSetupCode(given, addr string) error {
	f := &s.first
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.code == "" {
		return errSetupDone
	}
	key, loopback := setupSource(addr)
	if blocked, wait := f.src.Blocked(key); blocked {
		return model.RateLimited("too many wrong setup codes: try again later", wait)
	}
	if !loopback {
		if blocked, wait := f.all.Blocked("all"); blocked {
			return model.RateLimited("too many wrong setup codes: try again later", wait)
		}
	}
	if subtle.ConstantTimeCompare([]byte(normalizeSetupCode(given)), []byte(f.code)) != 1 {
		f.src.Fail(key)
		if !loopback {
			f.all.Fail("all")
			if blocked, _ := f.all.Blocked("all"); blocked && !f.warned {
				f.warned = true
				s.log.Warn("many wrong setup codes from the network: someone is guessing; the setup page refuses other machines for a while " +
					"(open it on this machine at 127.0.0.1, or create the professor with `teamchat user add`)")
			}
		}
		return errSetupWrong
	}
	return nil
}

// CompleteFirstRun checks the setup code, then names the class and creates
// its first admin, once: a second attempt, or one racing it, is refused with
// a conflict. Invalid input (a short password, a bad username) keeps the code
// valid for the next try.
func (s *Service) CompleteFirstRun(ctx context.Context, in SetupInput, addr string) (model.User, error) {
	if err := s.checkSetupCode(in.Code, addr); err != nil {
		return model.User{}, err
	}
	f := &s.first
	f.create.Lock()
	defer f.create.Unlock()
	if pending, err := s.FirstRunPending(ctx); err != nil {
		return model.User{}, err
	} else if !pending {
		return model.User{}, errSetupDone
	}
	u, err := s.SetupFirstAdmin(ctx, strings.TrimSpace(in.ClassName), strings.TrimSpace(in.Username), strings.TrimSpace(in.DisplayName), in.Password)
	if errors.Is(err, model.ErrConflict) {
		if pending, perr := s.FirstRunPending(ctx); perr == nil && !pending { // an admin appeared meanwhile (command line)
			return model.User{}, errSetupDone
		}
		return model.User{}, model.Conflict("username %q is taken", strings.ToLower(strings.TrimSpace(in.Username)))
	}
	if err != nil {
		return model.User{}, err
	}
	s.endFirstRun(u)
	return u, nil
}
