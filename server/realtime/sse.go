package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"teamchat/server/model"
)

// pongItem answers a `ping` frame; encoded once, shared by every connection.
var pongItem = &outItem{data: Encode(PongFrame{Type: "pong"})}

// PongFrame answers the client's application-level `ping`.
type PongFrame struct {
	Type string `json:"type"`
}

// Pong queues the answer to a `ping` frame.
func (c *Client) Pong() { c.deliver(pongItem) }

// sseHeartbeat is how often an idle event stream gets a comment line, so that
// proxies which cut silent responses keep it open.
const sseHeartbeat = 15 * time.Second

// sseStream is the second transport of a Client: the frames the server sends,
// as Server-Sent Events. The client's own frames come over REST.
type sseStream struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	pos map[int64]int64 // conversation → newest message seq written, for the event id
	buf bytes.Buffer
}

func (s *sseStream) flush() error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(writeWait))
	if _, err := s.w.Write(s.buf.Bytes()); err != nil {
		return err
	}
	s.buf.Reset()
	return s.rc.Flush()
}

// frame writes one frame as a `data:` event. Message frames also carry an
// `id:` naming the position of every conversation, which a reconnecting
// EventSource sends back as Last-Event-ID.
func (s *sseStream) frame(data []byte) error {
	if s.track(data) {
		s.buf.WriteString("id: ")
		s.buf.WriteString(FormatEventID(s.pos))
		s.buf.WriteByte('\n')
	}
	s.buf.WriteString("data: ")
	s.buf.Write(data) // encoding/json never writes a raw newline
	s.buf.WriteString("\n\n")
	return s.flush()
}

// track updates the positions from a message or subscribed frame.
func (s *sseStream) track(data []byte) bool {
	isMsg := bytes.HasPrefix(data, []byte(`{"type":"message",`))
	if !isMsg && !bytes.HasPrefix(data, []byte(`{"type":"subscribed",`)) {
		return false
	}
	var f struct {
		Message struct {
			ConversationID int64 `json:"conversation_id"`
			Seq            int64 `json:"seq"`
		} `json:"message"`
		ConversationID int64 `json:"conversation_id"`
		LastSeq        int64 `json:"last_seq"`
		HasMore        bool  `json:"has_more"`
	}
	if json.Unmarshal(data, &f) != nil {
		return false
	}
	conv, seq := f.Message.ConversationID, f.Message.Seq
	if !isMsg {
		if f.HasMore {
			return false // the client fetches the gap over REST; resuming must not skip it
		}
		conv, seq = f.ConversationID, f.LastSeq
	}
	if conv <= 0 || seq < s.pos[conv] {
		return false
	}
	s.pos[conv] = seq
	return true
}

func (s *sseStream) heartbeat() error {
	s.buf.WriteString(": heartbeat\n\n")
	return s.flush()
}

// close tells the client why the stream ends (as the WebSocket close frame
// would), unless it is a plain end.
func (s *sseStream) close(code int, reason string) {
	if code == websocket.CloseNormalClosure || code == websocket.CloseAbnormalClosure || code == 0 {
		return
	}
	b, _ := json.Marshal(struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	}{code, reason})
	fmt.Fprintf(&s.buf, "event: close\ndata: %s\n\n", b)
	_ = s.flush()
}

// FormatEventID is "conv:seq,conv:seq" in conversation order.
func FormatEventID(pos map[int64]int64) string {
	convs := make([]int64, 0, len(pos))
	for c := range pos {
		convs = append(convs, c)
	}
	slices.Sort(convs)
	var b strings.Builder
	for i, c := range convs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(c, 10))
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(pos[c], 10))
	}
	return b.String()
}

// ParseEventID reads a Last-Event-ID written by FormatEventID; anything else
// gives an error (at most max entries).
func ParseEventID(s string, max int) (map[int64]int64, error) {
	pos := map[int64]int64{}
	if s == "" {
		return pos, nil
	}
	for _, part := range strings.Split(s, ",") {
		c, q, ok := strings.Cut(part, ":")
		conv, err1 := strconv.ParseInt(c, 10, 64)
		seq, err2 := strconv.ParseInt(q, 10, 64)
		if !ok || err1 != nil || err2 != nil || conv <= 0 || seq < 0 {
			return nil, fmt.Errorf("want conversation:seq pairs separated by commas")
		}
		pos[conv] = seq
		if len(pos) > max {
			return nil, fmt.Errorf("at most %d conversations", max)
		}
	}
	return pos, nil
}

// ServeSSE runs an authenticated Server-Sent Events stream as a Client of the
// hub: the same queue, seq filter, backlog and eviction as a WebSocket, only
// the bytes on the wire differ. streamID is announced first (event `stream`)
// so the client can send its frames with REST; started runs once the client
// is registered (the caller subscribes and records the stream there). It
// returns when the peer goes away (gone), the hub closes it or ctx ends.
func ServeSSE(ctx context.Context, hub *Hub, be Backend, w http.ResponseWriter, gone <-chan struct{},
	user model.User, recheck Credential, streamID string, log *slog.Logger, started func(*Client)) {
	c := &Client{
		hub: hub, be: be, log: log, ctx: ctx,
		sse:        &sseStream{w: w, rc: http.NewResponseController(w), pos: map[int64]int64{}},
		rooms:      map[int64]struct{}{},
		wake:       make(chan struct{}, 1),
		subs:       map[int64]int64{},
		actPending: map[int64]int64{},
		done:       make(chan struct{}),
		finished:   make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	defer close(c.finished)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx and friends: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if !hub.track(c) {
		close(c.readerDone)
		c.closeWith(websocket.CloseGoingAway, "server shutting down")
		c.writeClose()
		return
	}
	fmt.Fprintf(&c.sse.buf, "retry: 2000\nevent: stream\ndata: {\"stream_id\":%q}\n\n", streamID)
	if c.sse.flush() != nil {
		close(c.readerDone)
		hub.unregister(c)
		return
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writePump()
	}()
	if c.authenticated(user, recheck) {
		started(c)
		log.Info("event stream connected", "user_id", user.ID)
	}
	select {
	case <-gone:
	case <-c.done:
	case <-ctx.Done():
	}
	close(c.readerDone)
	c.closeWith(websocket.CloseNormalClosure, "")
	<-writerDone
	hub.unregister(c) // a user going offline is announced with the next presence changes
}

// Done is closed when the connection is ending.
func (c *Client) Done() <-chan struct{} { return c.done }

// keepalive is the period of WebSocket pings or event-stream heartbeats.
func (c *Client) keepalive() time.Duration {
	if c.sse != nil {
		return sseHeartbeat
	}
	return pingPeriod
}
