package api

import (
	"net/http"
	"strconv"

	"teamchat/server/chat"
	"teamchat/server/model"
	"teamchat/server/store"
)

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *API) info(w http.ResponseWriter, r *http.Request) {
	set, err := a.chat.Settings(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	id, err := a.chat.InstallationID(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name": set.Name, "id": id, "version": a.version,
		"registration": set.Registration, "guest_access": set.GuestAccess, "paused": set.Paused,
		"session":             a.currentClassSession(r), // sessions.go
		"edit_window_minutes": set.EditWindowMinutes, "max_upload_mib": set.MaxUploadMiB,
	})
}

// ---- sessions and tokens ----

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Session  bool   `json:"session"`
}

type sessionAnswer struct {
	User      model.User `json:"user"`
	CSRFToken string     `json:"csrf_token"`
}

func (a *API) startSession(w http.ResponseWriter, r *http.Request, u model.User, status int) error {
	cookie, csrf, expires, err := a.chat.NewSession(r.Context(), u)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: cookie, Path: "/", Expires: expires,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil,
	})
	writeJSON(w, status, sessionAnswer{User: u, CSRFToken: csrf})
	return nil
}

func (a *API) createSession(w http.ResponseWriter, r *http.Request) error {
	if err := a.sessionOrigin(r); err != nil {
		return err
	}
	var in credentials
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := a.chat.Login(r.Context(), in.Username, in.Password, clientAddr(r))
	if err != nil {
		return err
	}
	return a.startSession(w, r, u, http.StatusOK)
}

func (a *API) redeemTicket(w http.ResponseWriter, r *http.Request) error {
	if err := a.sessionOrigin(r); err != nil {
		return err
	}
	var in struct {
		Ticket string `json:"ticket"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := a.chat.RedeemTicket(r.Context(), in.Ticket)
	if err != nil {
		return err
	}
	return a.startSession(w, r, u, http.StatusOK)
}

func (a *API) getSession(w http.ResponseWriter, r *http.Request, c caller) error {
	if c.cookie == "" {
		return &model.Error{Kind: model.ErrUnauthorized, Msg: "no browser session"}
	}
	writeJSON(w, http.StatusOK, sessionAnswer{User: c.user, CSRFToken: c.csrf})
	return nil
}

func (a *API) deleteSession(w http.ResponseWriter, r *http.Request, c caller) error {
	if c.cookie != "" {
		if err := a.chat.EndSession(r.Context(), c.cookie); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// cookieRequested checks the origin of a sign-in that asks for the cookie
// (session:true), before any work is done for it.
func (a *API) cookieRequested(r *http.Request, session bool) error {
	if !session {
		return nil
	}
	return a.sessionOrigin(r)
}

// answerAuth answers a sign-in: the cookie (session:true) or a token pair.
func (a *API) answerAuth(w http.ResponseWriter, r *http.Request, u model.User, session bool, status int) error {
	if session {
		return a.startSession(w, r, u, status)
	}
	pair, err := a.chat.IssueTokens(r.Context(), u)
	if err != nil {
		return err
	}
	writeJSON(w, status, pair)
	return nil
}

func (a *API) token(w http.ResponseWriter, r *http.Request) error {
	var in credentials
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := a.cookieRequested(r, in.Session); err != nil {
		return err
	}
	u, err := a.chat.Login(r.Context(), in.Username, in.Password, clientAddr(r))
	if err != nil {
		return err
	}
	return a.answerAuth(w, r, u, in.Session, http.StatusOK)
}

type refreshIn struct {
	RefreshToken string `json:"refresh_token"`
}

func (a *API) refresh(w http.ResponseWriter, r *http.Request) error {
	var in refreshIn
	if err := decode(r, &in); err != nil {
		return err
	}
	pair, err := a.chat.Refresh(r.Context(), in.RefreshToken)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pair)
	return nil
}

func (a *API) revoke(w http.ResponseWriter, r *http.Request) error {
	var in refreshIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := a.chat.RevokeRefresh(r.Context(), in.RefreshToken); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) register(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Username    string `json:"username"`
		Password    string `json:"password"`
		DisplayName string `json:"display_name"`
		JoinCode    string `json:"join_code"`
		Session     bool   `json:"session"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := a.cookieRequested(r, in.Session); err != nil {
		return err
	}
	u, err := a.chat.Register(r.Context(), in.Username, in.Password, in.DisplayName, in.JoinCode, clientAddr(r))
	if err != nil {
		return err
	}
	return a.answerAuth(w, r, u, in.Session, http.StatusCreated)
}

func (a *API) guest(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		DisplayName string `json:"display_name"`
		JoinCode    string `json:"join_code"`
		Session     bool   `json:"session"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := a.cookieRequested(r, in.Session); err != nil {
		return err
	}
	u, err := a.chat.Guest(r.Context(), in.DisplayName, in.JoinCode, clientAddr(r))
	if err != nil {
		return err
	}
	return a.answerAuth(w, r, u, in.Session, http.StatusCreated)
}

// ---- me, users, settings ----

func (a *API) getMe(w http.ResponseWriter, r *http.Request, c caller) error {
	writeJSON(w, http.StatusOK, c.user)
	return nil
}

func (a *API) patchMe(w http.ResponseWriter, r *http.Request, c caller) error {
	var in chat.MePatch
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := a.chat.UpdateMe(r.Context(), c.user, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	q := r.URL.Query().Get("q")
	if len(q) > 64 {
		return badRequest("q: at most 64 characters")
	}
	users, err := a.chat.Store().ListUsers(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
	return nil
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, c caller) error {
	var in struct {
		Username    string `json:"username"`
		Password    string `json:"password"`
		DisplayName string `json:"display_name"`
		Role        string `json:"role"`
	}
	if err := requireAdmin(c); err != nil {
		return err
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Role == "" {
		in.Role = model.RoleUser
	}
	u, err := a.chat.CreateUser(r.Context(), c.user, in.Username, in.Password, in.DisplayName, in.Role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, u)
	return nil
}

func (a *API) patchUser(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in chat.UserPatch
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := a.chat.UpdateUser(r.Context(), c.user, id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	yes := true
	if _, err := a.chat.UpdateUser(r.Context(), c.user, id, chat.UserPatch{Disabled: &yes}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) getSettings(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	set, err := a.chat.Settings(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, set)
	return nil
}

func (a *API) patchSettings(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	var in chat.SettingsPatch
	if err := decode(r, &in); err != nil {
		return err
	}
	set, err := a.chat.UpdateSettings(r.Context(), c.user, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, set)
	return nil
}

func (a *API) getConsole(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	set, err := a.chat.Settings(r.Context())
	if err != nil {
		return err
	}
	urls := a.console.URLs()
	join := make([]string, len(urls))
	for i, u := range urls {
		join[i] = u + "?code=" + set.JoinCode
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name": set.Name, "join_code": set.JoinCode, "urls": urls, "join_urls": join, "online": a.chat.Hub().Online(),
		"fingerprint": a.console.Fingerprint(),
	})
	return nil
}

// ---- conversations ----

func (a *API) listConversations(w http.ResponseWriter, r *http.Request, c caller) error {
	convs, err := a.chat.Conversations(r.Context(), c.user)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversations": convs})
	return nil
}

func (a *API) createConversation(w http.ResponseWriter, r *http.Request, c caller) error {
	var in struct {
		Name      string  `json:"name"`
		Kind      string  `json:"kind"`
		MemberIDs []int64 `json:"member_ids"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	conv, created, err := a.chat.CreateConversation(r.Context(), c.user, in.Name, in.Kind, in.MemberIDs)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	writeJSON(w, status, conv)
	return nil
}

func (a *API) getConversation(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	conv, err := a.chat.Conversation(r.Context(), c.user, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, conv)
	return nil
}

func (a *API) patchConversation(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		Name     *string `json:"name"`
		Locked   *bool   `json:"locked"`
		AutoJoin *bool   `json:"auto_join"`
		SlowMode *int    `json:"slow_mode_seconds"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	conv, err := a.chat.UpdateConversation(r.Context(), c.user, id, store.ConversationPatch{Name: in.Name, Locked: in.Locked, AutoJoin: in.AutoJoin, SlowMode: in.SlowMode})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, conv)
	return nil
}

func (a *API) deleteConversation(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := a.chat.DeleteConversation(r.Context(), c.user, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listMembers(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ms, err := a.chat.Members(r.Context(), c.user, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": ms})
	return nil
}

func (a *API) addMember(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		UserID int64  `json:"user_id"`
		Role   string `json:"role"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.UserID <= 0 {
		return badRequest("user_id: want a positive integer")
	}
	m, err := a.chat.AddMember(r.Context(), c.user, id, in.UserID, in.Role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, m)
	return nil
}

func (a *API) removeMember(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	uid, err := pathID(r, "user_id")
	if err != nil {
		return err
	}
	if err := a.chat.RemoveMember(r.Context(), c.user, id, uid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func queryInt(r *http.Request, name string) (*int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		if r.URL.Query().Has(name) {
			return nil, badRequest("%s: want a number", name)
		}
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return nil, badRequest("%s: want a non-negative integer", name)
	}
	return &n, nil
}

func (a *API) listMessages(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	after, err := queryInt(r, "after_seq")
	if err != nil {
		return err
	}
	before, err := queryInt(r, "before_seq")
	if err != nil {
		return err
	}
	limit := 50
	if l, err := queryInt(r, "limit"); err != nil {
		return err
	} else if l != nil {
		if *l < 1 || *l > 200 {
			return badRequest("limit: 1 to 200")
		}
		limit = int(*l)
	}
	page, err := a.chat.Messages(r.Context(), c.user, id, after, before, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (a *API) postMessage(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		Body          string  `json:"body"`
		ClientID      string  `json:"client_id"`
		ReplyTo       int64   `json:"reply_to"`
		AttachmentIDs []int64 `json:"attachment_ids"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	m, created, err := a.chat.Post(r.Context(), c.user, id, chat.Draft{ClientID: in.ClientID, Body: in.Body,
		ReplyTo: in.ReplyTo, AttachmentIDs: in.AttachmentIDs})
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	writeJSON(w, status, m)
	return nil
}

func (a *API) markRead(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		Seq int64 `json:"seq"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := a.chat.MarkRead(r.Context(), c.user, id, in.Seq); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) deleteMessage(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := a.chat.DeleteMessage(r.Context(), c.user, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
