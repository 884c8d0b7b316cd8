package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"teamchat/server/model"
	"teamchat/server/realtime"
)

// maxStreamSubs bounds the conversations one event stream may name at once.
const maxStreamSubs = 200

func (a *API) eventRoutes() []route {
	return []route{
		{"GET /api/v1/events", a.serveEvents},
		{"POST /api/v1/events/{stream_id}", a.signedIn(a.postStreamFrame)},
	}
}

type streamSub struct {
	conv  int64
	after *int64
}

// parseSubscribe reads `subscribe=ID` or `subscribe=ID:AFTER_SEQ`, repeated or comma-separated.
func parseSubscribe(values []string) ([]streamSub, error) {
	var subs []streamSub
	seen := map[int64]bool{}
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			c, q, hasAfter := strings.Cut(part, ":")
			conv, err := strconv.ParseInt(c, 10, 64)
			if err != nil || conv <= 0 {
				return nil, badRequest("subscribe: want conversation_id or conversation_id:after_seq (positive integers)")
			}
			s := streamSub{conv: conv}
			if hasAfter {
				after, err := strconv.ParseInt(q, 10, 64)
				if err != nil || after < 0 {
					return nil, badRequest("subscribe: after_seq must be a non-negative integer")
				}
				s.after = &after
			}
			if seen[conv] {
				return nil, badRequest("subscribe: conversation %d named twice", conv)
			}
			seen[conv] = true
			subs = append(subs, s)
			if len(subs) > maxStreamSubs {
				return nil, badRequest("subscribe: at most %d conversations", maxStreamSubs)
			}
		}
	}
	return subs, nil
}

// serveEvents is the Server-Sent Events fallback of /api/v1/ws for networks
// that block WebSockets: the same frames, resume and authorization, carried by
// a plain HTTP response. The client's frames go to POST /api/v1/events/{id}
// (and messages to POST …/messages). A cookie needs no Origin header here:
// unlike a WebSocket, an event stream is a fetch under CORS, so another site
// cannot read it, and the SameSite=Lax cookie is not sent cross-site anyway.
func (a *API) serveEvents(w http.ResponseWriter, r *http.Request) {
	if !a.originAllowed(r) {
		writeErrorCode(w, http.StatusForbidden, "forbidden", "origin not allowed")
		return
	}
	c, err := a.authenticate(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	subs, err := parseSubscribe(r.URL.Query()["subscribe"])
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	// A reconnecting EventSource sends the id of the last event it got: the
	// position of each conversation, which wins over an older after_seq.
	pos, err := realtime.ParseEventID(r.Header.Get("Last-Event-ID"), maxStreamSubs)
	if err != nil {
		a.writeError(w, r, badRequest("Last-Event-ID: %s", err.Error()))
		return
	}
	for i, s := range subs {
		if p, ok := pos[s.conv]; ok && (s.after == nil || p > *s.after) {
			subs[i].after = &p
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
	defer a.conns.release(addr)
	a.wsWG.Add(1)
	defer a.wsWG.Done()
	id := newStreamID()
	be := wsBackend{a.chat}
	// Checked again once the stream is registered, like a socket (ws.go).
	cred := &http.Request{Header: r.Header.Clone()}
	recheck := func(ctx context.Context) (model.User, error) {
		c, err := a.authenticate(cred.WithContext(ctx))
		return c.user, err
	}
	realtime.ServeSSE(a.ctx, a.chat.Hub(), be, w, r.Context().Done(), c.user, recheck, id, a.log, func(cl *realtime.Client) {
		a.streams.Store(id, cl)
		// The same frame handler as the socket's, so the same authorization decision.
		for _, s := range subs {
			be.HandleFrame(a.ctx, cl, realtime.Inbound{Type: "subscribe", ConversationID: s.conv, AfterSeq: s.after})
		}
	})
	a.streams.Delete(id)
}

func newStreamID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// postStreamFrame takes one client frame for an open event stream of the
// caller; answers come on the stream, exactly as on the socket.
func (a *API) postStreamFrame(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := requireJSON(r); err != nil { // like every JSON route (login CSRF)
		return err
	}
	v, ok := a.streams.Load(r.PathValue("stream_id"))
	if !ok {
		return notFoundStream()
	}
	cl := v.(*realtime.Client)
	if cl.User().ID != c.user.ID {
		return notFoundStream() // another user's stream: as if it did not exist
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &httpError{http.StatusRequestEntityTooLarge, "too_large", "request body over 64 KiB"}
		}
		return badRequest("could not read the request body")
	}
	if !utf8.Valid(data) {
		return badRequest("body is not valid UTF-8")
	}
	f, err := realtime.DecodeInbound(data)
	if err != nil {
		return badRequest("%s", err.Error())
	}
	switch f.Type {
	case "auth":
		return badRequest("the stream is already authenticated")
	case "ping":
		cl.Pong()
	default:
		wsBackend{a.chat}.HandleFrame(a.ctx, cl, f)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func notFoundStream() error {
	return &httpError{http.StatusNotFound, "not_found", "no such event stream (it ended): open a new one"}
}
