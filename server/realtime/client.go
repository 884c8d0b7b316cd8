package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"teamchat/server/model"
	"teamchat/server/strictjson"
)

// Limits and timings of a connection.
const (
	MaxFrameBytes = 64 << 10
	SendQueue     = 1024 // frames queued for one connection before it is evicted
	BacklogLimit  = 1000
	pingPeriod    = 30 * time.Second
	pongWait      = 60 * time.Second
	writeWait     = 10 * time.Second
	authWait      = 10 * time.Second
)

// Close codes beyond RFC 6455's.
const (
	CloseUnauthorized = 4401
	CloseSlowConsumer = 4008
)

// Backend is what a connection needs from the rest of the server.
type Backend interface {
	// AuthenticateToken checks an access token sent in an `auth` frame.
	AuthenticateToken(ctx context.Context, token string) (model.User, error)
	// HandleFrame handles one decoded frame of an authenticated connection.
	HandleFrame(ctx context.Context, c *Client, f Inbound)
	// Backlog returns up to limit messages with seq > after, oldest first.
	Backlog(ctx context.Context, conv, after int64, limit int) ([]model.Message, bool, error)
	// Range returns the messages with after < seq < before, oldest first.
	Range(ctx context.Context, conv, after, before int64) ([]model.Message, error)
	// LastSeq returns a conversation's newest seq.
	LastSeq(ctx context.Context, conv int64) (int64, error)
}

type itemKind uint8

const (
	itemFrame itemKind = iota
	itemSubscribe
	itemUnsubscribe
	itemActivity // coalesced: the writer reads the newest seq when it gets there
)

// outItem is one entry of a connection's queue; frames are shared, read-only.
type outItem struct {
	kind  itemKind
	data  []byte
	conv  int64  // conversation-scoped frame or command
	seq   int64  // for message frames: the message's seq
	after *int64 // for subscribe
}

// Client is one WebSocket connection.
type Client struct {
	hub  *Hub
	be   Backend
	conn *websocket.Conn
	sse  *sseStream // set instead of conn for a Server-Sent Events stream (sse.go)
	log  *slog.Logger
	ctx  context.Context

	user  model.User         // set once at authentication
	rooms map[int64]struct{} // guarded by hub.mu
	queue []*outItem         // guarded by qmu; at most SendQueue items
	qmu   sync.Mutex
	wake  chan struct{}   // capacity 1: the writer has something to do
	subs  map[int64]int64 // writer-owned: conversation → last seq delivered

	actMu      sync.Mutex
	actPending map[int64]int64 // conversation → newest seq of a queued activity item
	closed     sync.Once
	done       chan struct{} // closed to make the writer close the connection
	code       int
	reason     string

	finished   chan struct{} // closed when both pumps have returned
	readerDone chan struct{} // closed when the read pump has returned
}

// User is the authenticated user of the connection.
func (c *Client) User() model.User { return c.user }

// Serve runs a connection until it ends. user is nil when the client must
// authenticate with an `auth` frame.
func Serve(ctx context.Context, hub *Hub, be Backend, conn *websocket.Conn, user *model.User, log *slog.Logger) {
	c := &Client{
		hub: hub, be: be, conn: conn, log: log, ctx: ctx,
		rooms:      map[int64]struct{}{},
		wake:       make(chan struct{}, 1),
		subs:       map[int64]int64{},
		actPending: map[int64]int64{},
		done:       make(chan struct{}),
		finished:   make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	defer close(c.finished)
	if !hub.track(c) {
		close(c.readerDone)
		c.closeWith(websocket.CloseGoingAway, "server shutting down")
		c.writeClose()
		return
	}
	conn.SetReadLimit(MaxFrameBytes)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writePump()
	}()
	if user != nil {
		c.authenticated(*user)
	}
	c.readPump(user != nil)
	close(c.readerDone)
	c.closeWith(websocket.CloseNormalClosure, "")
	<-writerDone
	if hub.unregister(c) && c.user.ID != 0 {
		hub.Broadcast(PresenceFrame{Type: "presence", UserID: c.user.ID, Online: false})
	}
}

func (c *Client) authenticated(u model.User) bool {
	c.user = u
	c.enqueue(&outItem{data: Encode(ReadyFrame{Type: "ready", User: u})})
	first, ok := c.hub.register(c)
	if !ok {
		c.closeWith(websocket.CloseGoingAway, "server shutting down")
		return false
	}
	c.log.Info("websocket connected", "user_id", u.ID, "username", u.Username)
	if first {
		c.hub.Broadcast(PresenceFrame{Type: "presence", UserID: u.ID, Online: true})
	}
	// Who else is online now: one presence frame each, after ready.
	for _, id := range c.hub.OnlineUsers() {
		if id != u.ID {
			c.SendFrame(PresenceFrame{Type: "presence", UserID: id, Online: true})
		}
	}
	return true
}

// closeWith asks the writer to send a close frame with code and end the connection.
func (c *Client) closeWith(code int, reason string) {
	c.closed.Do(func() {
		c.code, c.reason = code, reason
		close(c.done)
	})
}

// deliver queues a frame without blocking; a full queue evicts the client.
func (c *Client) deliver(it *outItem) {
	select {
	case <-c.done:
		return
	default:
	}
	c.qmu.Lock()
	if len(c.queue) >= SendQueue {
		c.qmu.Unlock()
		c.closeWith(CloseSlowConsumer, "slow consumer")
		return
	}
	c.queue = append(c.queue, it)
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// take removes everything queued. The queue's memory follows the backlog, so
// an idle connection holds none.
func (c *Client) take() []*outItem {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	items := c.queue
	c.queue = nil
	return items
}

func (c *Client) enqueue(it *outItem) { c.deliver(it) }

// deliverActivity queues an activity notice, at most one per conversation at a
// time: a burst of messages costs one queue slot, not one per message.
func (c *Client) deliverActivity(conv, seq int64) {
	c.actMu.Lock()
	_, queued := c.actPending[conv]
	c.actPending[conv] = seq
	c.actMu.Unlock()
	if !queued {
		c.deliver(&outItem{kind: itemActivity, conv: conv})
	}
}

// SendFrame queues any frame for this connection.
func (c *Client) SendFrame(v any) { c.deliver(&outItem{data: Encode(v)}) }

// SendError queues an error frame.
func (c *Client) SendError(code, msg, clientID string) {
	c.SendFrame(ErrorFrame{Type: "error", Code: code, Message: msg, ClientID: clientID})
}

// Subscribe starts following a conversation: after is nil for live only,
// otherwise the backlog after that seq comes first. The caller has checked access.
func (c *Client) Subscribe(conv int64, after *int64) {
	c.hub.subscribe(c, conv)
	c.enqueue(&outItem{kind: itemSubscribe, conv: conv, after: after})
}

// Unsubscribe stops following a conversation.
func (c *Client) Unsubscribe(conv int64) {
	c.hub.unsubscribe(c, conv)
	c.enqueue(&outItem{kind: itemUnsubscribe, conv: conv})
}

func (c *Client) readPump(authed bool) {
	if authed {
		_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
	} else {
		_ = c.conn.SetReadDeadline(time.Now().Add(c.hub.AuthWait))
	}
	c.conn.SetPongHandler(func(string) error {
		return c.conn.SetReadDeadline(time.Now().Add(pongWait))
	})
	for {
		mt, data, err := c.conn.ReadMessage()
		if err != nil {
			switch {
			case errors.Is(err, websocket.ErrReadLimit):
				c.closeWith(websocket.CloseMessageTooBig, "frame over 64 KiB")
			case !authed:
				c.closeWith(CloseUnauthorized, "authentication required")
			}
			return
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
		if mt != websocket.TextMessage {
			c.SendError("bad_request", "binary frames are not accepted: send JSON text frames", "")
			continue
		}
		if !utf8.Valid(data) {
			c.closeWith(websocket.CloseInvalidFramePayloadData, "invalid UTF-8")
			return
		}
		f, err := DecodeInbound(data)
		if err != nil {
			if !authed {
				c.closeWith(CloseUnauthorized, "authentication required")
				return
			}
			c.SendError("bad_request", err.Error(), f.ClientID)
			continue
		}
		if !authed {
			if f.Type != "auth" {
				c.closeWith(CloseUnauthorized, "authenticate first")
				return
			}
			u, err := c.be.AuthenticateToken(c.ctx, f.Token)
			if err != nil {
				c.closeWith(CloseUnauthorized, "invalid token")
				return
			}
			if !c.authenticated(u) {
				return
			}
			authed = true
			_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
			continue
		}
		if f.Type == "auth" {
			c.SendError("bad_request", "already authenticated", "")
			continue
		}
		if f.Type == "ping" {
			c.Pong()
			continue
		}
		c.be.HandleFrame(c.ctx, c, f)
	}
}

// DecodeInbound parses one client frame strictly: a single JSON object with
// a known type and no unknown fields.
func DecodeInbound(data []byte) (Inbound, error) {
	var f Inbound
	if err := strictjson.CheckKeys(data, &f); err != nil {
		return f, errors.New("malformed frame: " + err.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return f, errors.New("malformed frame: want one JSON object with known fields")
	}
	if _, err := dec.Token(); err != io.EOF {
		return f, errors.New("malformed frame: trailing data after the JSON object")
	}
	switch f.Type {
	case "auth", "subscribe", "unsubscribe", "send", "typing", "read", "ping":
	case "":
		return f, errors.New("malformed frame: missing type")
	default:
		return f, errors.New("unknown frame type")
	}
	if f.Type != "auth" && f.Type != "ping" && f.ConversationID <= 0 {
		return f, errors.New("conversation_id: want a positive integer")
	}
	return f, nil
}

func (c *Client) write(data []byte) error {
	if c.sse != nil {
		return c.sse.frame(data)
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
	return c.conn.WriteMessage(websocket.TextMessage, data)
}

// closeWait bounds the closing handshake: after sending its close frame the
// server waits this long for the peer's, so the TCP connection is not reset
// while the peer still has our close frame unread (it would see 1006).
const closeWait = 2 * time.Second

func (c *Client) writeClose() {
	if c.sse != nil {
		c.sse.close(c.code, c.reason)
		return
	}
	msg := websocket.FormatCloseMessage(c.code, c.reason)
	if err := c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err == nil {
		select {
		case <-c.readerDone: // the peer answered (or the read side ended)
		case <-time.After(closeWait):
		}
	}
	_ = c.conn.Close()
}

func (c *Client) writePump() {
	ticker := time.NewTicker(c.keepalive())
	defer ticker.Stop()
	defer c.writeClose()
	for {
		select {
		case <-c.done:
			if c.code == websocket.CloseGoingAway || c.code == websocket.CloseNormalClosure {
				c.flush() // at shutdown, acks already queued still reach the client
			}
			return
		case <-ticker.C:
			if c.sse != nil {
				if err := c.sse.heartbeat(); err != nil {
					c.closeWith(websocket.CloseAbnormalClosure, "")
					return
				}
				continue
			}
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				c.closeWith(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-c.wake:
			for _, it := range c.take() {
				if err := c.handle(it); err != nil {
					c.closeWith(websocket.CloseInternalServerErr, "")
					return
				}
			}
		}
	}
}

// flush writes what is still queued, without waiting for more.
func (c *Client) flush() {
	for _, it := range c.take() {
		if c.handle(it) != nil {
			return
		}
	}
}

// handle writes one queued item; conversation frames pass the seq filter so
// that backlog and live join with no gap and no duplicate.
func (c *Client) handle(it *outItem) error {
	switch it.kind {
	case itemSubscribe:
		return c.startSubscription(it.conv, it.after)
	case itemUnsubscribe:
		delete(c.subs, it.conv)
		return c.write(Encode(UnsubscribedFrame{Type: "unsubscribed", ConversationID: it.conv}))
	case itemActivity:
		c.actMu.Lock()
		seq := c.actPending[it.conv]
		delete(c.actPending, it.conv)
		c.actMu.Unlock()
		return c.write(Encode(ActivityFrame{Type: "activity", ConversationID: it.conv, LastSeq: seq}))
	}
	if it.conv == 0 {
		return c.write(it.data)
	}
	last, ok := c.subs[it.conv]
	if !ok {
		return nil // not (yet) following: the backlog read will cover it
	}
	if it.seq == 0 {
		return c.write(it.data)
	}
	if it.seq <= last {
		return nil // already delivered in the backlog
	}
	if it.seq > last+1 {
		missing, err := c.be.Range(c.ctx, it.conv, last, it.seq)
		if err != nil {
			return err
		}
		for _, m := range missing {
			if err := c.write(Encode(MessageFrame{Type: "message", Message: m})); err != nil {
				return err
			}
		}
	}
	c.subs[it.conv] = it.seq
	return c.write(it.data)
}

func (c *Client) startSubscription(conv int64, after *int64) error {
	var last int64
	hasMore := false
	if after == nil {
		head, err := c.be.LastSeq(c.ctx, conv)
		if err != nil {
			return err
		}
		last = head
	} else {
		last = max(*after, 0)
		msgs, more, err := c.be.Backlog(c.ctx, conv, last, BacklogLimit)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if err := c.write(Encode(MessageFrame{Type: "message", Message: m})); err != nil {
				return err
			}
			last = m.Seq
		}
		if more {
			hasMore = true
			head, err := c.be.LastSeq(c.ctx, conv)
			if err != nil {
				return err
			}
			last = head
		}
	}
	c.subs[conv] = last
	return c.write(Encode(SubscribedFrame{Type: "subscribed", ConversationID: conv, LastSeq: last, HasMore: hasMore}))
}
