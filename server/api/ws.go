package api

import (
	"context"
	"errors"
	"net/http"

	"teamchat/server/chat"
	"teamchat/server/model"
	"teamchat/server/realtime"
	"teamchat/server/store"
)

// serveWS upgrades /api/v1/ws. Authentication: the session cookie (only with
// an allowed Origin header), a Bearer access token, or an `auth` first frame.
func (a *API) serveWS(w http.ResponseWriter, r *http.Request) {
	if !a.originAllowed(r) {
		writeErrorCode(w, http.StatusForbidden, "forbidden", "origin not allowed")
		return
	}
	var user *model.User
	var recheck realtime.Credential
	if r.Header.Get("Authorization") != "" || hasCookie(r) {
		c, err := a.authenticate(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if c.cookie != "" && r.Header.Get("Origin") == "" {
			writeErrorCode(w, http.StatusForbidden, "forbidden", "cookie authentication needs an Origin header")
			return
		}
		user = &c.user
		// The same credential, checked again once the socket is claimed in
		// the hub (a copy of the headers: the request is gone by then).
		cred := &http.Request{Header: r.Header.Clone()}
		recheck = func(ctx context.Context) (model.User, error) {
			c, err := a.authenticate(cred.WithContext(ctx))
			return c.user, err
		}
	}
	if a.chat.Hub().Closed() {
		writeErrorCode(w, http.StatusServiceUnavailable, "unavailable", "server shutting down")
		return
	}
	addr := clientAddr(r)
	if !a.conns.acquire(addr) {
		w.Header().Set("Retry-After", "10")
		writeErrorCode(w, http.StatusTooManyRequests, "rate_limited", "too many open connections from this address")
		return
	}
	conn, err := a.up.Upgrade(w, r, nil)
	if err != nil {
		a.conns.release(addr)
		return // the upgrader has answered
	}
	// Serve on a fresh goroutine and let this handler return: its stack grew
	// while authenticating (SQLite), and an idle socket should not keep it.
	a.wsWG.Add(1)
	go func() {
		defer a.wsWG.Done()
		defer a.conns.release(addr)
		realtime.Serve(a.ctx, a.chat.Hub(), wsBackend{a.chat}, conn, user, recheck, a.log)
	}()
}

func hasCookie(r *http.Request) bool {
	_, err := r.Cookie(SessionCookie)
	return err == nil
}

// wsBackend answers frames through the same chat service as REST.
type wsBackend struct{ svc *chat.Service }

func (b wsBackend) AuthenticateToken(ctx context.Context, token string) (model.User, error) {
	return b.svc.UserFromAccessToken(ctx, token)
}

func (b wsBackend) Backlog(ctx context.Context, conv, after int64, limit int) ([]model.Message, bool, error) {
	p, err := b.svc.Store().MessagesAfter(ctx, conv, after, limit)
	return p.Messages, p.HasMore, err
}

func (b wsBackend) Range(ctx context.Context, conv, after, before int64) ([]model.Message, error) {
	return b.svc.Store().MessagesRange(ctx, conv, after, before)
}

func (b wsBackend) LastSeq(ctx context.Context, conv int64) (int64, error) {
	c, err := b.svc.Store().Conversation(ctx, conv)
	if errors.Is(err, model.ErrNotFound) {
		return 0, nil
	}
	return c.LastSeq, err
}

// subscribeError refuses a subscribe, naming its conversation.
func subscribeError(c *realtime.Client, err error, conv int64) {
	_, code, msg := ErrorStatus(err)
	c.SendFrame(realtime.ErrorFrame{Type: "error", Code: code, Message: msg, ConversationID: conv})
}

func frameError(c *realtime.Client, err error, clientID string) {
	_, code, msg := ErrorStatus(err)
	c.SendError(code, msg, clientID)
}

// HandleFrame runs one frame; authorization is the chat service's, as for REST,
// and as for REST it starts from the account as it is now, not as it was when
// the socket opened. A send is checked against the stored account inside its
// commit; the other frames read it here.
func (b wsBackend) HandleFrame(ctx context.Context, c *realtime.Client, f realtime.Inbound) {
	user := c.User()
	if f.Type != "send" {
		u, err := b.svc.ActiveUser(ctx, user.ID)
		if err != nil {
			if errors.Is(err, model.ErrUnauthorized) {
				c.CloseUnauthorized("credentials no longer valid: sign in again")
			} else {
				frameError(c, err, "")
			}
			return
		}
		user = u
	}
	switch f.Type {
	case "subscribe":
		conv, _, err := b.svc.Authorize(ctx, user, f.ConversationID, chat.ActRead)
		if err != nil {
			subscribeError(c, err, f.ConversationID)
			return
		}
		if f.AfterSeq != nil && *f.AfterSeq < 0 {
			subscribeError(c, model.Invalid("after_seq: must not be negative"), f.ConversationID)
			return
		}
		if f.AfterSeq != nil {
			// The replay costs what it will send (at most a backlog's limit);
			// messages arriving meanwhile come live, as to every subscriber.
			n := min(conv.LastSeq-*f.AfterSeq, realtime.BacklogLimit)
			if err := b.svc.AllowReplay(user.ID, int(n)); err != nil {
				subscribeError(c, err, f.ConversationID)
				return
			}
		}
		c.Subscribe(f.ConversationID, f.AfterSeq)
	case "unsubscribe":
		c.Unsubscribe(f.ConversationID)
	case "send":
		if f.ClientID == "" {
			c.SendError("bad_request", "client_id: required", "")
			return
		}
		clientID := f.ClientID
		d := chat.Draft{ClientID: clientID, Body: f.Body, ReplyTo: f.ReplyTo, AttachmentIDs: f.AttachmentIDs}
		err := b.svc.PostAsync(ctx, user, f.ConversationID, d, func(res store.AppendResult) {
			if res.Err != nil {
				frameError(c, res.Err, clientID)
				return
			}
			c.SendFrame(realtime.AckFrame{Type: "ack", ClientID: clientID, Message: res.Message})
		})
		if err != nil {
			frameError(c, err, clientID)
		}
	case "typing":
		if err := b.svc.Typing(ctx, user, f.ConversationID); err != nil {
			frameError(c, err, "")
		}
	case "read":
		if err := b.svc.MarkRead(ctx, user, f.ConversationID, f.Seq); err != nil {
			frameError(c, err, "")
		}
	}
}
