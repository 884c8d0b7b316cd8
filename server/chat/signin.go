package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"teamchat/server/auth"
	"teamchat/server/model"
)

// Sign-in limits. Wrong passwords are counted three ways: per (username,
// address) tightly, so one machine is cut off after a few guesses; per
// address over every username, so one machine cannot spray; and per username
// loosely, so guessing from many machines is still bounded, with a cap above
// what ten machines reach on their own pair limits. The username-wide cap is
// not applied to a (username, address) pair that signed in with the right
// password before (knownPairTTL): classmates cannot lock an account out of
// the machine its owner uses. Independently, every password check costs the
// address a token (right or wrong), a successful sign-in costs the account
// one, and the hasher takes one request per address and per account at a
// time (auth.Hasher.Turn), so a flood of correct sign-ins waits behind itself
// instead of in front of everyone else.
const (
	pairFailures  = 5
	addrFailures  = 20
	userFailures  = 60
	failureWindow = 10 * time.Minute
	knownPairTTL  = 30 * 24 * time.Hour
	accountPerMin = 10 // successful sign-ins per account per minute (and burst)
)

type signInLimits struct {
	pair, addr, user *auth.FailureLimiter
	known            *auth.Known
	addrWork         *auth.Budget // every password check, per address
	accountOK        *auth.Budget // successful sign-ins, per account
}

func newSignInLimits(perMinute float64) signInLimits {
	l := signInLimits{
		pair:  auth.NewFailureLimiter(pairFailures, failureWindow),
		addr:  auth.NewFailureLimiter(addrFailures, failureWindow),
		user:  auth.NewFailureLimiter(userFailures, failureWindow),
		known: auth.NewKnown(knownPairTTL),
	}
	if perMinute > 0 {
		l.addrWork = auth.NewBudget(perMinute, int(perMinute))
		l.accountOK = auth.NewBudget(accountPerMin, accountPerMin)
	}
	return l
}

func addrSource(addr string) string    { return "a:" + addr }
func accountSource(name string) string { return "u:" + strings.ToLower(name) }
func pairKey(name, addr string) string { return strings.ToLower(name) + "\x00" + addr }
func errTooManyFailures(w time.Duration) error {
	return model.RateLimited("too many failed sign-ins: try again later", w)
}

// blocked says whether failed sign-ins stop this attempt, and for how long.
func (l *signInLimits) blocked(name, addr string) (bool, time.Duration) {
	p := pairKey(name, addr)
	if b, w := l.pair.Blocked(p); b {
		return b, w
	}
	if b, w := l.addr.Blocked(addrSource(addr)); b {
		return b, w
	}
	if l.known.Has(p) {
		return false, 0
	}
	return l.user.Blocked(accountSource(name))
}

func (l *signInLimits) fail(name, addr string) {
	l.pair.Fail(pairKey(name, addr))
	l.addr.Fail(addrSource(addr))
	l.user.Fail(accountSource(name))
}

// signInTurn spends the address's budget and waits for its turn at the
// hasher; release ends the turn.
func (s *Service) signInTurn(ctx context.Context, addr string, accounts ...string) (func(), error) {
	if ok, wait := s.signin.addrWork.Take(addrSource(addr)); !ok {
		return nil, model.RateLimited("too many sign-ins from this address: try again later", wait)
	}
	sources := []string{addrSource(addr)}
	for _, a := range accounts {
		sources = append(sources, accountSource(a))
	}
	return s.hasher.Turn(ctx, sources...)
}

// Login checks a username and password. Unknown users and wrong passwords get
// the same answer after the same work; while failures limit an attempt even
// the right password is refused. The limits are described above.
func (s *Service) Login(ctx context.Context, username, password, addr string) (model.User, error) {
	l := &s.signin
	if blocked, wait := l.blocked(username, addr); blocked {
		return model.User{}, errTooManyFailures(wait)
	}
	if len(password) > 72 {
		l.fail(username, addr)
		return model.User{}, errBadLogin
	}
	release, err := s.signInTurn(ctx, addr, username)
	if err != nil {
		return model.User{}, err
	}
	defer release()
	// Checked at the turn, so sign-ins queued for this account see the ones
	// that succeeded before them.
	if ok, wait := l.accountOK.Ready(accountSource(username)); !ok {
		return model.User{}, model.RateLimited("too many sign-ins to this account: try again later", wait)
	}
	u, err := s.st.UserByUsername(ctx, username)
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return model.User{}, err
	}
	ok, cerr := s.hasher.Check(ctx, u.PasswordHash, password) // empty hash: dummy compare
	if cerr != nil {
		return model.User{}, cerr
	}
	if err != nil || !ok || u.Disabled || u.Role == model.RoleGuest || s.expired(u) {
		l.fail(username, addr)
		return model.User{}, errBadLogin
	}
	l.accountOK.Take(accountSource(username))
	l.pair.Reset(pairKey(username, addr))
	l.known.Add(pairKey(username, addr))
	return u.User, nil
}

// AdminLinkTTL is how long a sign-in link made by AdminSignInTicket works.
const AdminLinkTTL = 10 * time.Minute

// AdminSignInTicket makes a one-time ticket that signs an admin in to the
// web UI without a password and past every sign-in limit: the way in that
// students cannot block, for whoever runs the server (it is made from the
// command line, with access to the data directory, which could reset the
// password anyway). The ticket is kept in the database, so a running server
// redeems it at POST /session/ticket (or /?ticket= in a browser).
func (s *Service) AdminSignInTicket(ctx context.Context, username string) (string, time.Time, error) {
	u, err := s.st.UserByUsername(ctx, username)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("no user %q", username)
	}
	if u.Role != model.RoleAdmin || u.Disabled {
		return "", time.Time{}, fmt.Errorf("%q is not an active admin", username)
	}
	t := auth.RandomToken(32)
	exp := time.Now().Add(AdminLinkTTL)
	if err := s.st.PutLoginTicket(ctx, t, u.ID, exp.UnixMilli()); err != nil {
		return "", time.Time{}, err
	}
	return t, exp, nil
}

func (s *Service) redeemStoredTicket(ctx context.Context, t string) (model.User, error) {
	if t == "" || len(t) > 128 {
		return model.User{}, errBadToken
	}
	uid, err := s.st.TakeLoginTicket(ctx, t)
	if errors.Is(err, model.ErrNotFound) {
		return model.User{}, errBadToken
	}
	if err != nil {
		return model.User{}, err
	}
	u, err := s.activeUser(ctx, uid, anyEpoch)
	if err == nil && u.Role != model.RoleAdmin {
		return model.User{}, errBadToken
	}
	return u, err
}
