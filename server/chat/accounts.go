package chat

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"teamchat/server/auth"
	"teamchat/server/model"
	"teamchat/server/store"
)

// SessionTTL is how long a browser session lives.
const SessionTTL = 30 * 24 * time.Hour

var errBadLogin = &model.Error{Kind: model.ErrUnauthorized, Msg: "wrong username or password"}

func (s *Service) expired(u store.UserRecord) bool {
	return u.ExpiresAt > 0 && u.ExpiresAt <= time.Now().UnixMilli()
}

// Settings returns the class settings.
func (s *Service) Settings(ctx context.Context) (model.Settings, error) {
	kv, err := s.st.Settings(ctx)
	if err != nil {
		return model.Settings{}, err
	}
	ttl, _ := strconv.Atoi(kv[store.SettingGuestTTL])
	dm := kv[store.SettingDMPolicy]
	if dm == "" {
		dm = model.DMPolicyAnyone
	}
	return model.Settings{
		Name:          kv[store.SettingName],
		Registration:  kv[store.SettingRegistration],
		JoinCode:      kv[store.SettingJoinCode],
		GuestAccess:   kv[store.SettingGuestAccess] == "true",
		GuestTTLHours: ttl,
		Paused:        kv[store.SettingPaused] == "true",
		DMPolicy:      dm,
		GroupPolicy:   groupPolicyOf(kv[store.SettingGroupPolicy]),
		FlagWords:     flagWordsOf(kv[store.SettingFlagWords]),

		EditWindowMinutes: settingInt(kv, SettingEditWindow, model.DefaultEditWindowMinutes),
		MaxUploadMiB:      settingInt(kv, SettingMaxUpload, model.DefaultMaxUploadMiB),
		UploadQuotaMiB:    settingInt(kv, SettingUploadQuota, model.DefaultUploadQuotaMiB),
	}, nil
}

// InstallationID is this installation's random id.
func (s *Service) InstallationID(ctx context.Context) (string, error) {
	kv, err := s.st.Settings(ctx)
	return kv[store.SettingInstallID], err
}

// SettingsPatch holds optional settings changes.
type SettingsPatch struct {
	Name           *string   `json:"name"`
	Registration   *string   `json:"registration"`
	JoinCode       *string   `json:"join_code"`
	GuestAccess    *bool     `json:"guest_access"`
	GuestTTLHours  *int      `json:"guest_ttl_hours"`
	RotateJoinCode bool      `json:"rotate_join_code"`
	Paused         *bool     `json:"paused"`
	DMPolicy       *string   `json:"dm_policy"`
	GroupPolicy    *string   `json:"group_policy"`
	FlagWords      *[]string `json:"flag_words"`

	EditWindowMinutes *int `json:"edit_window_minutes"`
	MaxUploadMiB      *int `json:"max_upload_mib"`
	UploadQuotaMiB    *int `json:"upload_quota_mib"`
}

// UpdateSettings changes class settings (admins only).
func (s *Service) UpdateSettings(ctx context.Context, actor model.User, p SettingsPatch) (model.Settings, error) {
	if actor.Role != model.RoleAdmin {
		return model.Settings{}, model.Forbidden("only admins can change settings")
	}
	kv := map[string]string{}
	if p.Name != nil {
		n, err := NormalizeName("name", *p.Name)
		if err != nil {
			return model.Settings{}, err
		}
		kv[store.SettingName] = n
	}
	if p.Registration != nil {
		switch *p.Registration {
		case model.RegistrationOpen, model.RegistrationCode, model.RegistrationClosed:
			kv[store.SettingRegistration] = *p.Registration
		default:
			return model.Settings{}, model.Invalid("registration: want open, code or closed")
		}
	}
	if p.JoinCode != nil {
		c := strings.ToUpper(strings.TrimSpace(*p.JoinCode))
		if len(c) < 4 || len(c) > 32 || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return model.Settings{}, model.Invalid("join_code: 4 to 32 of A-Z, 0-9, '-'")
		}
		kv[store.SettingJoinCode] = c
	}
	if p.RotateJoinCode {
		kv[store.SettingJoinCode] = auth.JoinCode()
	}
	if p.GuestAccess != nil {
		kv[store.SettingGuestAccess] = strconv.FormatBool(*p.GuestAccess)
	}
	if p.GuestTTLHours != nil {
		if *p.GuestTTLHours < 1 || *p.GuestTTLHours > 24*14 {
			return model.Settings{}, model.Invalid("guest_ttl_hours: 1 to 336")
		}
		kv[store.SettingGuestTTL] = strconv.Itoa(*p.GuestTTLHours)
	}
	if err := moderationSettings(p, kv); err != nil {
		return model.Settings{}, err
	}
	if err := flagSettings(p, kv); err != nil { // flags.go
		return model.Settings{}, err
	}
	if err := featureSettings(p, kv); err != nil { // features.go
		return model.Settings{}, err
	}
	before, err := s.st.Settings(ctx)
	if err != nil {
		return model.Settings{}, err
	}
	if len(kv) > 0 {
		if err := s.st.PutSettings(ctx, kv); err != nil {
			return model.Settings{}, err
		}
	}
	s.settingsChanged(ctx, actor, before, kv)
	return s.Settings(ctx)
}

// checkCode verifies a join code, limiting wrong guesses per client address.
func (s *Service) checkCode(given, want, addr string) error {
	key := "c:" + addr
	if blocked, wait := s.codes.Blocked(key); blocked {
		return model.RateLimited("too many wrong class codes: try again later", wait)
	}
	given = strings.ToUpper(strings.TrimSpace(given))
	if want == "" || subtle.ConstantTimeCompare([]byte(given), []byte(want)) != 1 {
		s.codes.Fail(key)
		return model.Forbidden("wrong class code")
	}
	return nil
}

// Register creates a student account with the class code (or freely when
// registration is open).
func (s *Service) Register(ctx context.Context, username, password, displayName, code, addr string) (model.User, error) {
	set, err := s.Settings(ctx)
	if err != nil {
		return model.User{}, err
	}
	switch set.Registration {
	case model.RegistrationOpen:
	case model.RegistrationCode:
		if err := s.checkCode(code, set.JoinCode, addr); err != nil {
			return model.User{}, err
		}
	default:
		return model.User{}, model.Forbidden("registration is closed: ask your professor for an account")
	}
	release, err := s.signInTurn(ctx, addr) // signin.go: the password is hashed
	if err != nil {
		return model.User{}, err
	}
	defer release()
	return s.createAccount(ctx, username, password, displayName, model.RoleUser, true)
}

// accountNames normalizes a username and a display name (the username when empty).
func accountNames(username, displayName string) (string, string, error) {
	username, err := NormalizeUsername(username)
	if err != nil {
		return "", "", err
	}
	if displayName == "" {
		displayName = username
	}
	displayName, err = NormalizeName("display_name", displayName)
	return username, displayName, err
}

// createAccount creates an account; own: the student chose the name
// (sign-up), so it may not imitate staff (names.go).
func (s *Service) createAccount(ctx context.Context, username, password, displayName, role string, own bool) (model.User, error) {
	username, displayName, err := accountNames(username, displayName)
	if err != nil {
		return model.User{}, err
	}
	switch role {
	case model.RoleAdmin, model.RoleUser:
	default:
		return model.User{}, model.Invalid("role: want admin or user")
	}
	if _, err := s.st.UserByUsername(ctx, username); err == nil {
		return model.User{}, model.Conflict("username %q is taken", username) // before the name check: that answer says more
	}
	if err := s.checkDisplayName(ctx, displayName, 0, own); err != nil {
		return model.User{}, err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return model.User{}, err
	}
	u, err := s.st.CreateUser(ctx, store.NewUser{Username: username, DisplayName: displayName, Role: role, PasswordHash: hash})
	if errors.Is(err, model.ErrConflict) {
		return u, model.Conflict("username %q is taken", username)
	}
	if err == nil {
		s.forgetMembers(0)
		s.announceNewAccount(ctx, u)
	}
	return u, err
}

// Guest creates a temporary, passwordless account with the class code.
func (s *Service) Guest(ctx context.Context, displayName, code, addr string) (model.User, error) {
	set, err := s.Settings(ctx)
	if err != nil {
		return model.User{}, err
	}
	if !set.GuestAccess {
		return model.User{}, model.Forbidden("guest access is off in this class")
	}
	if err := s.checkCode(code, set.JoinCode, addr); err != nil {
		return model.User{}, err
	}
	if displayName, err = NormalizeName("display_name", displayName); err != nil {
		return model.User{}, err
	}
	if err := s.checkDisplayName(ctx, displayName, 0, true); err != nil {
		return model.User{}, err
	}
	ttl := time.Duration(max(set.GuestTTLHours, 1)) * time.Hour
	for range 5 {
		name := "guest-" + strings.ToLower(auth.JoinCode())
		u, err := s.st.CreateGuest(ctx, store.NewUser{Username: name, DisplayName: displayName, Role: model.RoleGuest, // joins the active class session
			ExpiresAt: time.Now().Add(ttl).UnixMilli()})
		if errors.Is(err, model.ErrConflict) {
			continue
		}
		if err == nil {
			s.forgetMembers(0)
			s.announceNewAccount(ctx, u)
		}
		return u, err
	}
	return model.User{}, errors.New("chat: could not pick a guest username")
}

// CreateUser is the admin's account creation.
func (s *Service) CreateUser(ctx context.Context, actor model.User, username, password, displayName, role string) (model.User, error) {
	if actor.Role != model.RoleAdmin {
		return model.User{}, model.Forbidden("only admins can create accounts")
	}
	u, err := s.createAccount(ctx, username, password, displayName, role, false)
	if err == nil {
		s.audit(ctx, &actor, AuditUserCreate, "user", u.ID, map[string]any{"username": u.Username, "role": u.Role})
	}
	return u, err
}

// CreateUserCLI creates an account from the command line (no actor).
func (s *Service) CreateUserCLI(ctx context.Context, username, password, displayName, role string) (model.User, error) {
	u, err := s.createAccount(ctx, username, password, displayName, role, false)
	if err == nil {
		s.audit(ctx, nil, AuditUserCreate, "user", u.ID, map[string]any{"username": u.Username, "role": u.Role})
	}
	return u, err
}

// SetupFirstAdmin creates the first admin and names the class, once.
func (s *Service) SetupFirstAdmin(ctx context.Context, className, username, displayName, password string) (model.User, error) {
	username, displayName, err := accountNames(username, displayName)
	if err != nil {
		return model.User{}, err
	}
	if className, err = NormalizeName("class name", className); err != nil {
		return model.User{}, err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return model.User{}, err
	}
	u, err := s.st.CreateFirstAdmin(ctx, store.NewUser{Username: username, DisplayName: displayName, Role: model.RoleAdmin, PasswordHash: hash}, className)
	if err == nil {
		s.forgetMembers(0)
	}
	return u, err
}

// UserPatch is an admin's change to an account.
type UserPatch struct {
	DisplayName *string `json:"display_name"`
	Role        *string `json:"role"`
	Disabled    *bool   `json:"disabled"`
	Password    *string `json:"password"`
}

// UpdateUser changes an account (admins). Disabling or demoting cuts the
// user's sessions, tokens and sockets at once.
func (s *Service) UpdateUser(ctx context.Context, actor model.User, id int64, p UserPatch) (model.User, error) {
	if actor.Role != model.RoleAdmin {
		return model.User{}, model.Forbidden("only admins can change accounts")
	}
	cur, err := s.st.UserByID(ctx, id)
	if err != nil {
		return model.User{}, model.NotFound("user")
	}
	var sp store.UserPatch
	if p.DisplayName != nil {
		n, err := NormalizeName("display_name", *p.DisplayName)
		if err != nil {
			return model.User{}, err
		}
		if err := s.checkDisplayName(ctx, n, id, false); err != nil {
			return model.User{}, err
		}
		sp.DisplayName = &n
	}
	if p.Role != nil {
		switch *p.Role {
		case model.RoleAdmin, model.RoleUser:
			if cur.Role == model.RoleGuest {
				return model.User{}, model.Invalid("role: a guest account cannot be promoted; create an account instead")
			}
		case model.RoleGuest:
			if cur.Role != model.RoleGuest {
				return model.User{}, model.Invalid("role: an account cannot become a guest")
			}
		default:
			return model.User{}, model.Invalid("role: want admin or user")
		}
		sp.Role = p.Role
	}
	if p.Disabled != nil {
		sp.Disabled = p.Disabled
	}
	if id == actor.ID && ((p.Disabled != nil && *p.Disabled) || (p.Role != nil && *p.Role != model.RoleAdmin)) {
		return model.User{}, model.Forbidden("you cannot disable or demote yourself")
	}
	if p.Password != nil {
		if cur.Role == model.RoleGuest {
			return model.User{}, model.Invalid("password: guests have no password")
		}
		h, err := s.hasher.Hash(ctx, *p.Password)
		if err != nil {
			return model.User{}, err
		}
		sp.PasswordHash = &h
	}
	u, err := s.st.UpdateUser(ctx, id, sp)
	if err != nil {
		return u, err
	}
	s.auditUserUpdate(ctx, actor, cur, u, p)
	if (p.Disabled != nil && *p.Disabled && !cur.Disabled) || (p.Role != nil && *p.Role != cur.Role) || p.Password != nil {
		s.hub.DisconnectUser(id, 4401, "account changed: sign in again")
	}
	if u.Disabled {
		s.forgetMembers(0)
	}
	return u, nil
}

// MePatch is a user's change to their own account.
type MePatch struct {
	DisplayName     *string `json:"display_name"`
	Password        *string `json:"password"`
	CurrentPassword *string `json:"current_password"`
}

// UpdateMe changes the caller's own display name or password.
func (s *Service) UpdateMe(ctx context.Context, actor model.User, p MePatch) (model.User, error) {
	var sp store.UserPatch
	if p.DisplayName != nil {
		n, err := NormalizeName("display_name", *p.DisplayName)
		if err != nil {
			return model.User{}, err
		}
		if err := s.checkDisplayName(ctx, n, actor.ID, actor.Role != model.RoleAdmin); err != nil {
			return model.User{}, err
		}
		sp.DisplayName = &n
	}
	if p.Password != nil {
		if actor.Role == model.RoleGuest {
			return model.User{}, model.Forbidden("guests have no password")
		}
		if p.CurrentPassword == nil {
			return model.User{}, model.Invalid("current_password: required to change the password")
		}
		rec, err := s.st.UserByID(ctx, actor.ID)
		if err != nil {
			return model.User{}, err
		}
		release, err := s.hasher.Turn(ctx, accountSource(actor.Username)) // one hash at a time per account (signin.go)
		if err != nil {
			return model.User{}, err
		}
		defer release()
		ok, err := s.hasher.Check(ctx, rec.PasswordHash, *p.CurrentPassword)
		if err != nil {
			return model.User{}, err
		}
		if !ok {
			return model.User{}, model.Forbidden("current_password is wrong")
		}
		h, err := s.hasher.Hash(ctx, *p.Password)
		if err != nil {
			return model.User{}, err
		}
		sp.PasswordHash = &h
	}
	u, err := s.st.UpdateUser(ctx, actor.ID, sp)
	if err == nil && p.Password != nil {
		s.hub.DisconnectUser(actor.ID, 4401, "password changed: sign in again")
	}
	return u, err
}

// ---- sessions and tokens ----

// TokenPair is what the token endpoints answer.
type TokenPair struct {
	AccessToken  string     `json:"access_token"`
	RefreshToken string     `json:"refresh_token"`
	TokenType    string     `json:"token_type"`
	ExpiresIn    int        `json:"expires_in"`
	User         model.User `json:"user"`
}

// IssueTokens starts a new token family for the user.
func (s *Service) IssueTokens(ctx context.Context, u model.User) (TokenPair, error) {
	return s.issue(ctx, u, "")
}

func (s *Service) issue(ctx context.Context, u model.User, rotateFrom string) (TokenPair, error) {
	rec, err := s.st.UserByID(ctx, u.ID)
	if err != nil {
		return TokenPair{}, err
	}
	acc, err := s.tokens.Issue(u.ID, u.Role, auth.TypeAccess, rec.TokenEpoch)
	if err != nil {
		return TokenPair{}, err
	}
	ref, err := s.tokens.Issue(u.ID, u.Role, auth.TypeRefresh, rec.TokenEpoch)
	if err != nil {
		return TokenPair{}, err
	}
	rt := store.RefreshToken{JTI: ref.JTI, UserID: u.ID, Family: auth.RandomToken(12), ExpiresAt: ref.ExpiresAt.UnixMilli()}
	if rotateFrom == "" {
		err = s.st.InsertRefresh(ctx, rt)
	} else {
		_, err = s.st.RotateRefresh(ctx, rotateFrom, rt)
	}
	if err != nil {
		return TokenPair{}, err
	}
	return TokenPair{AccessToken: acc.Token, RefreshToken: ref.Token, TokenType: "Bearer", ExpiresIn: int(auth.AccessTTL.Seconds()), User: u}, nil
}

var errBadToken = &model.Error{Kind: model.ErrUnauthorized, Msg: "invalid or expired token"}

// Refresh rotates a refresh token into a new pair; a reused token revokes its family.
func (s *Service) Refresh(ctx context.Context, token string) (TokenPair, error) {
	c, uid, err := s.tokens.Verify(token, auth.TypeRefresh)
	if err != nil {
		return TokenPair{}, errBadToken
	}
	u, err := s.activeUser(ctx, uid, c.Epoch)
	if err != nil {
		return TokenPair{}, err
	}
	pair, err := s.issue(ctx, u, c.ID)
	if err != nil {
		if errors.Is(err, store.ErrRefreshReused) {
			s.log.Warn("refresh token reused: its family is revoked", "user_id", uid)
			s.audit(ctx, nil, AuditTokenReuse, "user", uid, map[string]any{"username": u.Username})
		}
		if errors.Is(err, model.ErrUnauthorized) {
			s.log.Warn("refresh token rejected (revoked, expired or reused)", "user_id", uid)
			return TokenPair{}, errBadToken
		}
		return TokenPair{}, err
	}
	return pair, nil
}

// RevokeRefresh revokes one refresh token; invalid tokens are ignored.
func (s *Service) RevokeRefresh(ctx context.Context, token string) error {
	c, _, err := s.tokens.Verify(token, auth.TypeRefresh)
	if err != nil {
		return nil
	}
	return s.st.RevokeRefresh(ctx, c.ID)
}

// UserFromAccessToken authenticates an access token against the current account.
func (s *Service) UserFromAccessToken(ctx context.Context, token string) (model.User, error) {
	c, uid, err := s.tokens.Verify(token, auth.TypeAccess)
	if err != nil {
		return model.User{}, errBadToken
	}
	return s.activeUser(ctx, uid, c.Epoch)
}

// anyEpoch skips the token-epoch check (sessions are deleted instead).
const anyEpoch = -1

// activeUser loads the account behind a credential: role and state come from
// the database, never from a token's claims.
func (s *Service) activeUser(ctx context.Context, uid, epoch int64) (model.User, error) {
	u, err := s.st.UserByID(ctx, uid)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return model.User{}, errBadToken
		}
		return model.User{}, err
	}
	if u.Disabled || s.expired(u) || (epoch != anyEpoch && epoch != u.TokenEpoch) {
		return model.User{}, errBadToken
	}
	return u.User, nil
}

// NewSession starts a browser session: the cookie value and its CSRF token.
func (s *Service) NewSession(ctx context.Context, u model.User) (cookie, csrf string, expires time.Time, err error) {
	cookie, csrf = auth.RandomToken(32), auth.RandomToken(24)
	expires = time.Now().Add(SessionTTL)
	rec, err := s.st.UserByID(ctx, u.ID)
	if err != nil {
		return "", "", expires, err
	}
	if rec.ExpiresAt > 0 && rec.ExpiresAt < expires.UnixMilli() {
		expires = time.UnixMilli(rec.ExpiresAt)
	}
	err = s.st.CreateSession(ctx, cookie, store.Session{UserID: u.ID, CSRFToken: csrf, ExpiresAt: expires.UnixMilli()})
	return cookie, csrf, expires, err
}

// UserFromSession authenticates a session cookie; it returns the CSRF token too.
func (s *Service) UserFromSession(ctx context.Context, cookie string) (model.User, string, error) {
	if cookie == "" || len(cookie) > 128 {
		return model.User{}, "", errBadToken
	}
	sess, err := s.st.SessionByID(ctx, cookie)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return model.User{}, "", errBadToken
		}
		return model.User{}, "", err
	}
	u, err := s.activeUser(ctx, sess.UserID, anyEpoch)
	return u, sess.CSRFToken, err
}

// EndSession logs a browser session out.
func (s *Service) EndSession(ctx context.Context, cookie string) error {
	return s.st.DeleteSession(ctx, cookie)
}

// ---- one-time login tickets for the desktop host ----

type ticketBook struct {
	mu sync.Mutex
	m  map[string]ticket
}

type ticket struct {
	userID  int64
	expires time.Time
}

func newTicketBook() *ticketBook { return &ticketBook{m: map[string]ticket{}} }

// LoginTicket mints a one-time ticket, valid for 60 s, that signs userID in.
func (s *Service) LoginTicket(ctx context.Context, userID int64) (string, error) {
	u, err := s.st.UserByID(ctx, userID)
	if err != nil || u.Disabled {
		return "", fmt.Errorf("chat: login ticket for user %d: no active user", userID)
	}
	t := auth.RandomToken(32)
	s.tickets.mu.Lock()
	defer s.tickets.mu.Unlock()
	now := time.Now()
	for k, v := range s.tickets.m {
		if now.After(v.expires) {
			delete(s.tickets.m, k)
		}
	}
	s.tickets.m[t] = ticket{userID: userID, expires: now.Add(time.Minute)}
	return t, nil
}

// RedeemTicket consumes a ticket and returns its user.
func (s *Service) RedeemTicket(ctx context.Context, t string) (model.User, error) {
	s.tickets.mu.Lock()
	tk, ok := s.tickets.m[t]
	delete(s.tickets.m, t)
	s.tickets.mu.Unlock()
	if !ok {
		return s.redeemStoredTicket(ctx, t) // signin.go: made by the command line
	}
	if time.Now().After(tk.expires) {
		return model.User{}, errBadToken
	}
	return s.activeUser(ctx, tk.userID, anyEpoch)
}
