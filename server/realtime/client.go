package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"teamchat/server/model"
	"teamchat/server/strictjson"
)

// Limits and timings of a connection.
const (
	MaxFrameBytes = 64 << 10
	// A connection is evicted as a slow consumer when more than StallBytes are
	// queued while one write to it has been blocked for StallTime (a phone that
	// stopped reading), or, however fast it reads, past MaxQueuedBytes or
	// SendQueue items. Bytes and a stalled write, not a frame count, tell a
	// stalled client from a healthy one receiving a burst; a write blocked for
	// writeWait ends the connection in any case.
	StallBytes     = 1 << 20
	StallTime      = 5 * time.Second
	MaxQueuedBytes = 16 << 20
	SendQueue      = 1 << 16
	BacklogLimit   = 1000
	// maxBatch bounds one WebSocket message of the batched protocol.
	maxBatch = 64 << 10
	// itemCost is what a queued command without bytes of its own counts for.
	itemCost   = 64
	pingPeriod = 30 * time.Second
	pongWait   = 60 * time.Second
	writeWait  = 10 * time.Second
	authWait   = 10 * time.Second
)

// Close codes beyond RFC 6455's.
const (
	CloseUnauthorized = 4401
	CloseSlowConsumer = 4008
)

// Credential checks a connection's credential against the current account
// (a token, a session cookie) and returns the user it stands for.
type Credential func(ctx context.Context) (model.User, error)

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
	itemPresenceSnapshot
)

// Protocol is the WebSocket subprotocol a client may ask for
// (Sec-WebSocket-Protocol): the server then joins several queued frames into
// one text message, separated by newlines, and sends presence as lists
// (presence_snapshot, presence_changes). Without it: one frame per message,
// one presence frame per user. docs/api.md has the contract.
const Protocol = "teamchat.v2"

// outItem is one entry of a connection's queue; frames are shared, read-only.
type outItem struct {
	kind  itemKind
	data  []byte
	multi [][]byte // when set, the unnegotiated form of data: one message each
	conv  int64    // conversation-scoped frame or command
	seq   int64    // for message frames: the message's seq
	after *int64   // for subscribe
}

// Client is one WebSocket connection.
type Client struct {
	hub  *Hub
	be   Backend
	conn *websocket.Conn
	sse  *sseStream // set instead of conn for a Server-Sent Events stream (sse.go)
	log  *slog.Logger
	ctx  context.Context

	user    model.User         // set once at authentication
	rooms   map[int64]struct{} // guarded by hub.mu
	queue   []*outItem         // guarded by qmu; at most SendQueue items
	qbytes  int                // guarded by qmu: bytes queued
	qmu     sync.Mutex
	batched bool // the client negotiated Protocol
	// writeStart is when the write in progress began (unix ns); 0 when none.
	writeStart atomic.Int64
	cut        atomic.Bool     // evicted as a slow consumer: write nothing more
	batch      *[]byte         // writer-owned: the message being joined, from batchPool, nil when idle
	one        []byte          // writer-owned: a lone frame not yet written (shared, not copied)
	wake       chan struct{}   // capacity 1: the writer has something to do
	subs       map[int64]int64 // writer-owned: conversation → last seq delivered

	actMu      sync.Mutex
	actPending map[int64]int64 // conversation → newest seq of a queued activity item
	closed     sync.Once
	done       chan struct{} // closed to make the writer close the connection
	code       int
	reason     string
	last       []byte // written just before the close frame (nil: none)

	finished   chan struct{} // closed when both pumps have returned
	readerDone chan struct{} // closed when the read pump has returned
}

// User is the authenticated user of the connection.
func (c *Client) User() model.User { return c.user }

// Serve runs a connection until it ends. user is nil when the client must
// authenticate with an `auth` frame; otherwise recheck checks the credential
// it was authenticated with again, once the connection is claimed in the hub.
func Serve(ctx context.Context, hub *Hub, be Backend, conn *websocket.Conn, user *model.User, recheck Credential, log *slog.Logger) {
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
	c.batched = conn.Subprotocol() == Protocol
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
		onFreshStack(func() { c.authenticated(*user, recheck) }) // refused: closing, so readPump handles no frame
	}
	c.readPump(user != nil)
	close(c.readerDone)
	c.closeWith(websocket.CloseNormalClosure, "")
	<-writerDone
	hub.unregister(c) // a user going offline is announced with the next presence changes
}

// authenticated registers the connection of u. The credential was checked
// before, but a revocation (session ended, account disabled or demoted, guest
// expired) may have committed since and found no connection to close. So the
// connection is claimed in the hub first and the credential checked again
// after: a revocation committed before the claim fails this check, one after
// it finds the claim and closes the connection. Either way none survives it.
func (c *Client) authenticated(u model.User, recheck Credential) bool {
	c.user = u
	if !c.hub.claim(c) {
		c.closeWith(websocket.CloseGoingAway, "server shutting down")
		return false
	}
	fresh, err := recheck(c.ctx)
	if err != nil || fresh.ID != u.ID {
		c.hub.unclaim(c)
		if err == nil || errors.Is(err, model.ErrUnauthorized) {
			c.closeWith(CloseUnauthorized, "credentials no longer valid: sign in again")
		} else {
			c.log.Error("websocket credential check failed", "err", err)
			c.closeWith(websocket.CloseInternalServerErr, "")
		}
		return false
	}
	u = fresh
	c.user = u
	c.enqueue(&outItem{data: Encode(ReadyFrame{Type: "ready", User: u})})
	_, ok := c.hub.register(c) // coming online is announced with the next presence changes
	if !ok {
		c.closeWith(websocket.CloseGoingAway, "server shutting down") // no-op when a revocation closed it
		return false
	}
	c.log.Info("websocket connected", "user_id", u.ID, "username", u.Username)
	// Who is online: one queue item, the list read when the writer gets to it.
	c.enqueue(&outItem{kind: itemPresenceSnapshot})
	return true
}

// closing reports whether the connection is being closed: it then handles no
// more frames (its credentials may have been revoked).
func (c *Client) closing() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// CloseUnauthorized closes the connection with 4401 (its account can no longer act).
func (c *Client) CloseUnauthorized(reason string) { c.closeWith(CloseUnauthorized, reason) }

// closeWith asks the writer to send a close frame with code and end the connection.
func (c *Client) closeWith(code int, reason string) { c.closeWithLast(code, reason, nil) }

// closeWithLast is closeWith with a frame written just before the close frame.
func (c *Client) closeWithLast(code int, reason string, last []byte) {
	c.closed.Do(func() {
		c.code, c.reason, c.last = code, reason, last
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
	size := len(it.data)
	if size == 0 {
		size = itemCost
	}
	c.qmu.Lock()
	if len(c.queue) >= SendQueue || c.qbytes+size > MaxQueuedBytes || c.qbytes+size > StallBytes && c.stalled() {
		c.queue, c.qbytes = nil, 0 // let go of what it would never read
		c.qmu.Unlock()
		c.evict()
		return
	}
	c.queue = append(c.queue, it)
	c.qbytes += size
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// evict closes a slow consumer: its writer stops at once, a write blocked on
// it is interrupted, and the close frame is tried with a short deadline.
func (c *Client) evict() {
	c.cut.Store(true)
	c.closeWith(CloseSlowConsumer, "slow consumer")
	if c.sse != nil {
		return // the stream's writer sees the close at its next write
	}
	if nc := c.conn.NetConn(); nc != nil {
		_ = nc.SetWriteDeadline(time.Now())
	}
}

// take removes everything queued. The queue's memory follows the backlog, so
// an idle connection holds none.
func (c *Client) take() []*outItem {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	items := c.queue
	c.queue = nil
	c.qbytes = 0
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
		stop := false
		onFreshStack(func() { stop = c.handleInbound(data, &authed) })
		if stop {
			return
		}
	}
}

// handleInbound decodes and runs one client frame; true ends the connection.
func (c *Client) handleInbound(data []byte, authed *bool) (stop bool) {
	f, err := DecodeInbound(data)
	if err != nil {
		if !*authed {
			c.closeWith(CloseUnauthorized, "authentication required")
			return true
		}
		c.SendError("bad_request", err.Error(), f.ClientID)
		return false
	}
	if !*authed {
		if f.Type != "auth" {
			c.closeWith(CloseUnauthorized, "authenticate first")
			return true
		}
		u, err := c.be.AuthenticateToken(c.ctx, f.Token)
		if err != nil {
			c.closeWith(CloseUnauthorized, "invalid token")
			return true
		}
		token := f.Token
		if !c.authenticated(u, func(ctx context.Context) (model.User, error) { return c.be.AuthenticateToken(ctx, token) }) {
			return true
		}
		*authed = true
		_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
		return false
	}
	if c.closing() {
		return false // revoked or evicted: read on only to finish the closing handshake
	}
	if f.Type == "auth" {
		c.SendError("bad_request", "already authenticated", "")
		return false
	}
	if f.Type == "ping" {
		c.Pong()
		return false
	}
	c.be.HandleFrame(c.ctx, c, f)
	return false
}

// onFreshStack runs f on a short-lived goroutine and waits for it. Decoding
// and backend calls go deep (JSON, SQLite); run on a connection's own
// goroutines they would grow its stacks for as long as it stays open, idle or
// not, which was most of the memory of an idle connection. A goroutine start
// costs about a microsecond.
func onFreshStack(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
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

// errCut stops the writer of a connection that is being cut off.
var errCut = errors.New("realtime: connection cut off")

// write writes one frame, unless the connection is being cut off (revoked,
// evicted, broken): then nothing more goes out, whatever was queued or read
// for it before. Only a shutdown or a normal close lets queued frames out.
func (c *Client) write(data []byte) error {
	if c.closing() && c.code != websocket.CloseGoingAway && c.code != websocket.CloseNormalClosure {
		return errCut
	}
	return c.writeFrame(data)
}

func (c *Client) writeFrame(data []byte) error {
	if c.cut.Load() {
		return errEvicted
	}
	now := time.Now()
	c.writeStart.Store(now.UnixNano())
	defer c.writeStart.Store(0)
	if c.sse != nil {
		return c.sse.frame(data)
	}
	_ = c.conn.SetWriteDeadline(now.Add(writeWait))
	return c.conn.WriteMessage(websocket.TextMessage, data)
}

// stalled reports whether the write in progress has been blocked for StallTime.
func (c *Client) stalled() bool {
	t := c.writeStart.Load()
	return t != 0 && time.Since(time.Unix(0, t)) > StallTime
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
	var lastWrite time.Time
	ticker := time.NewTicker(c.keepalive())
	defer ticker.Stop()
	defer c.writeClose()
	for {
		select {
		case <-c.done:
			if c.code == websocket.CloseGoingAway || c.code == websocket.CloseNormalClosure {
				c.flush() // at shutdown, acks already queued still reach the client
			}
			if c.last != nil {
				_ = c.writeFrame(c.last)
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
			if c.batched && time.Since(lastWrite) < denseWindow {
				// Frames are coming densely: let a few more arrive and send
				// them in one write, instead of one system call each.
				time.Sleep(linger)
			}
			if err := c.writeItems(c.take()); err != nil {
				c.closeWith(websocket.CloseInternalServerErr, "")
				return
			}
			lastWrite = time.Now()
		}
	}
}

// A batched connection that wrote less than denseWindow ago waits linger
// before writing what woke it: at a few hundred frames a second and more,
// that joins several frames per write for at most linger of latency; sparse
// traffic is written at once.
const (
	denseWindow = 5 * time.Millisecond
	linger      = 2 * time.Millisecond
)

// flush writes what is still queued, without waiting for more.
func (c *Client) flush() { _ = c.writeItems(c.take()) }

// writeItems writes queued items: one message each, or, with Protocol, as
// few messages as fit them.
func (c *Client) writeItems(items []*outItem) error {
	for _, it := range items {
		if c.cut.Load() {
			c.dropBatch()
			return errEvicted
		}
		if err := c.handle(it); err != nil {
			c.dropBatch()
			return err
		}
	}
	return c.flushBatch()
}

// batchPool holds the buffers of messages being joined; a writer takes one
// only while it has more than one frame to send, so idle connections hold none.
var errEvicted = errors.New("evicted as a slow consumer")

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// emit writes one frame, or adds it to the message being joined. A lone frame
// is written as it is, without a copy.
func (c *Client) emit(data []byte) error {
	if !c.batched {
		return c.write(data)
	}
	if c.one == nil && c.batch == nil {
		c.one = data
		return nil
	}
	if c.batch == nil {
		c.batch = batchPool.Get().(*[]byte)
		*c.batch = append(*c.batch, c.one...)
		c.one = nil
	}
	if len(*c.batch)+1+len(data) > maxBatch {
		if err := c.flushBatch(); err != nil {
			return err
		}
		c.one = data
		return nil
	}
	*c.batch = append(append(*c.batch, '\n'), data...)
	return nil
}

// flushBatch writes the joined message, if any, and gives its buffer back.
func (c *Client) flushBatch() error {
	var err error
	switch {
	case c.batch != nil:
		err = c.write(*c.batch)
	case c.one != nil:
		err = c.write(c.one)
	}
	c.dropBatch()
	return err
}

func (c *Client) dropBatch() {
	c.one = nil
	if c.batch != nil {
		if cap(*c.batch) <= 2*maxBatch {
			*c.batch = (*c.batch)[:0]
			batchPool.Put(c.batch)
		}
		c.batch = nil
	}
}

// handle writes one queued item; conversation frames pass the seq filter so
// that backlog and live join with no gap and no duplicate.
func (c *Client) handle(it *outItem) error {
	switch it.kind {
	case itemSubscribe:
		var err error
		onFreshStack(func() { err = c.startSubscription(it.conv, it.after) })
		return err
	case itemUnsubscribe:
		delete(c.subs, it.conv)
		return c.emit(Encode(UnsubscribedFrame{Type: "unsubscribed", ConversationID: it.conv}))
	case itemActivity:
		c.actMu.Lock()
		seq := c.actPending[it.conv]
		delete(c.actPending, it.conv)
		c.actMu.Unlock()
		return c.emit(Encode(ActivityFrame{Type: "activity", ConversationID: it.conv, LastSeq: seq}))
	case itemPresenceSnapshot:
		snap := c.hub.presenceSnapshot()
		if c.batched {
			return c.emit(snap.v2)
		}
		var buf []byte
		for _, id := range snap.ids {
			if id != c.user.ID {
				buf = legacyPresence(buf[:0], id, true)
				if err := c.write(buf); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if it.multi != nil && !c.batched {
		for _, f := range it.multi {
			if err := c.write(f); err != nil {
				return err
			}
		}
		return nil
	}
	if it.conv == 0 {
		return c.emit(it.data)
	}
	last, ok := c.subs[it.conv]
	if !ok {
		return nil // not (yet) following: the backlog read will cover it
	}
	if it.seq == 0 {
		return c.emit(it.data)
	}
	if it.seq <= last {
		return nil // already delivered in the backlog
	}
	if it.seq > last+1 {
		var missing []model.Message
		var err error
		onFreshStack(func() { missing, err = c.be.Range(c.ctx, it.conv, last, it.seq) })
		if err != nil {
			return err
		}
		for _, m := range missing {
			if err := c.emit(Encode(MessageFrame{Type: "message", Message: m})); err != nil {
				return err
			}
		}
	}
	c.subs[it.conv] = it.seq
	return c.emit(it.data)
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
			if err := c.emit(Encode(MessageFrame{Type: "message", Message: m})); err != nil {
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
	return c.emit(Encode(SubscribedFrame{Type: "subscribed", ConversationID: conv, LastSeq: last, HasMore: hasMore}))
}
