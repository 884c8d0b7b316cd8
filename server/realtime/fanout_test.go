package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"teamchat/server/model"
)

// nopBackend serves subscriptions with an empty conversation.
type nopBackend struct{}

func (nopBackend) AuthenticateToken(context.Context, string) (model.User, error) {
	return model.User{}, fmt.Errorf("no tokens here")
}
func (nopBackend) HandleFrame(_ context.Context, c *Client, f Inbound) {
	if f.Type == "subscribe" {
		c.Subscribe(f.ConversationID, f.AfterSeq)
	}
}
func (nopBackend) Backlog(context.Context, int64, int64, int) ([]model.Message, bool, error) {
	return nil, false, nil
}
func (nopBackend) Range(context.Context, int64, int64, int64) ([]model.Message, error) {
	return nil, nil
}
func (nopBackend) LastSeq(context.Context, int64) (int64, error) { return 0, nil }

// testServer serves hub over real WebSockets on 127.0.0.1; ?uid=N is the user.
func testServer(t *testing.T, hub *Hub) string {
	t.Helper()
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{}, Subprotocols: []string{Protocol}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uid, _ := strconv.ParseInt(r.URL.Query().Get("uid"), 10, 64)
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		u := model.User{ID: uid, Username: fmt.Sprintf("u%d", uid), Role: model.RoleUser}
		wg.Add(1)
		go func() {
			defer wg.Done()
			Serve(ctx, hub, nopBackend{}, conn, &u, func(context.Context) (model.User, error) { return u, nil }, slog.New(slog.NewTextHandler(io.Discard, nil)))
		}()
	}))
	t.Cleanup(func() {
		hub.Close(websocket.CloseGoingAway, "test over", nil)
		cancel()
		wg.Wait()
		srv.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dialUser(t *testing.T, url string, uid int64, batched bool) *websocket.Conn {
	t.Helper()
	d := *websocket.DefaultDialer
	if batched {
		d.Subprotocols = []string{Protocol}
	}
	c, _, err := d.Dial(fmt.Sprintf("%s/?uid=%d", url, uid), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if got := c.Subprotocol(); (got == Protocol) != batched {
		t.Fatalf("subprotocol %q, batched %v", got, batched)
	}
	return c
}

// frames reads one WebSocket message and returns its frames.
// awaitSnapshot reads a negotiated connection's messages up to its presence snapshot.
func awaitSnapshot(t *testing.T, c *websocket.Conn) {
	t.Helper()
	for {
		for _, f := range frames(t, c) {
			if f["type"] == "presence_snapshot" {
				return
			}
		}
	}
}

func frames(t *testing.T, c *websocket.Conn) []map[string]any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range bytes.Split(data, []byte("\n")) {
		var f map[string]any
		if err := json.Unmarshal(line, &f); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out = append(out, f)
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// clientOf finds the hub's connection of a user.
func clientOf(h *Hub, uid int64) *Client {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.byUser[uid] {
		return c
	}
	return nil
}

// A negotiated connection gets everything queued in one message, one frame a
// line; an unnegotiated one gets the same frames one message each.
func TestQueuedFramesAreJoinedOnlyWhenNegotiated(t *testing.T) {
	for _, batched := range []bool{true, false} {
		t.Run(fmt.Sprint("batched=", batched), func(t *testing.T) {
			hub := NewHub()
			hub.PresenceEvery = time.Hour // no presence traffic in this test
			url := testServer(t, hub)
			ws := dialUser(t, url, 7, batched)
			got := frames(t, ws)
			if got[0]["type"] != "ready" {
				t.Fatalf("first frame %v", got[0])
			}
			for batched && got[len(got)-1]["type"] != "presence_snapshot" {
				got = frames(t, ws) // the snapshot follows ready, maybe in the same message
			}
			waitFor(t, "the queue to drain", func() bool {
				c := clientOf(hub, 7)
				c.qmu.Lock()
				defer c.qmu.Unlock()
				return len(c.queue) == 0
			})
			c := clientOf(hub, 7)
			const n = 300
			items := make([]*outItem, n)
			for i := range items {
				items[i] = &outItem{data: Encode(ErrorFrame{Type: "error", Code: "x", Message: strconv.Itoa(i)})}
			}
			queueAll(c, items)
			var all []map[string]any
			messages := 0
			for len(all) < n {
				all = append(all, frames(t, ws)...)
				messages++
			}
			for i, f := range all {
				if f["message"] != strconv.Itoa(i) {
					t.Fatalf("frame %d is %v", i, f)
				}
			}
			if batched && messages != 1 {
				t.Fatalf("%d frames came in %d messages, want 1", n, messages)
			}
			if !batched && messages != n {
				t.Fatalf("%d frames came in %d messages, want %d", n, messages, n)
			}
		})
	}
}

// queueAll queues items at once, so that the writer takes them in one go.
func queueAll(c *Client, items []*outItem) {
	c.qmu.Lock()
	c.queue = append(c.queue, items...)
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// A batch never grows past maxBatch: a big backlog goes in several messages.
func TestBatchesAreBounded(t *testing.T) {
	hub := NewHub()
	hub.PresenceEvery = time.Hour
	url := testServer(t, hub)
	ws := dialUser(t, url, 7, true)
	awaitSnapshot(t, ws) // ready and the snapshot may come in one message or two
	waitFor(t, "the connection", func() bool { return clientOf(hub, 7) != nil })
	c := clientOf(hub, 7)
	body := strings.Repeat("z", 1000)
	const n = 200
	items := make([]*outItem, n)
	for i := range items {
		items[i] = &outItem{data: Encode(ErrorFrame{Type: "error", Code: "x", Message: body + strconv.Itoa(i)})}
	}
	queueAll(c, items)
	seen := 0
	for seen < n {
		_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > maxBatch {
			t.Fatalf("a message of %d bytes, bound %d", len(data), maxBatch)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			var f ErrorFrame
			if err := json.Unmarshal(line, &f); err != nil || f.Message != body+strconv.Itoa(seen) {
				t.Fatalf("frame %d: %.40s… %v", seen, line, err)
			}
			seen++
		}
	}
}

// fakeClient is a registered connection without a socket: its queue shows
// what the hub sent it.
func fakeClient(h *Hub, uid int64) *Client {
	c := &Client{hub: h, user: model.User{ID: uid}, rooms: map[int64]struct{}{}, wake: make(chan struct{}, 1),
		subs: map[int64]int64{}, actPending: map[int64]int64{}, done: make(chan struct{})}
	h.track(c)
	if _, ok := h.register(c); !ok {
		panic("hub closed")
	}
	return c
}

func decodeChanges(t *testing.T, it *outItem) PresenceChangesFrame {
	t.Helper()
	var f PresenceChangesFrame
	if err := json.Unmarshal(it.data, &f); err != nil || f.Type != "presence_changes" {
		t.Fatalf("not presence_changes: %s", it.data)
	}
	return f
}

// Joining costs each connection one queue item per announcement, whatever the
// number of users who came online meanwhile; the snapshot is built once.
func TestPresenceIsCoalesced(t *testing.T) {
	hub := NewHub()
	hub.PresenceEvery = time.Hour // announcements are made by hand below
	const n = 1000
	cs := make([]*Client, n)
	for i := range cs {
		cs[i] = fakeClient(hub, int64(i+1))
	}
	hub.announcePresence()
	for i, c := range cs {
		if len(c.queue) != 1 {
			t.Fatalf("client %d has %d items queued, want 1", i, len(c.queue))
		}
	}
	f := decodeChanges(t, cs[0].queue[0])
	if len(f.Online) != n || len(f.Offline) != 0 || f.Online[0] != 1 || f.Online[n-1] != n {
		t.Fatalf("online %d (first %v), offline %v", len(f.Online), f.Online[:1], f.Offline)
	}
	if it := cs[0].queue[0]; len(it.multi) != n || string(it.multi[0]) != string(Encode(PresenceFrame{Type: "presence", UserID: 1, Online: true})) {
		t.Fatalf("legacy form: %d frames, first %s", len(it.multi), it.multi[0])
	}
	s1 := hub.presenceSnapshot()
	if s2 := hub.presenceSnapshot(); s1 != s2 || len(s1.ids) != n {
		t.Fatalf("snapshot rebuilt or wrong: %d ids", len(s1.ids))
	}
	for _, c := range cs {
		c.take()
	}

	// A user who drops and comes back within the interval is no news; one who
	// leaves is, and so is a new one.
	hub.unregister(cs[4])
	cs[4] = fakeClient(hub, 5)
	hub.unregister(cs[9])
	late := fakeClient(hub, n+1)
	hub.announcePresence()
	f = decodeChanges(t, cs[0].queue[0])
	if fmt.Sprint(f.Online, f.Offline) != fmt.Sprint([]int64{n + 1}, []int64{10}) {
		t.Fatalf("changes online %v offline %v", f.Online, f.Offline)
	}
	if len(late.queue) != 1 {
		t.Fatalf("the newcomer has %d items", len(late.queue))
	}
	if s3 := hub.presenceSnapshot(); s3 == s1 || len(s3.ids) != n {
		t.Fatalf("snapshot after changes: same %v, %d ids", s3 == s1, len(s3.ids))
	}
	// Nothing changed: nothing is sent.
	for _, c := range append(cs, late) {
		c.take()
	}
	hub.announcePresence()
	if len(cs[0].queue) != 0 {
		t.Fatalf("announcement without changes sent %d items", len(cs[0].queue))
	}
}

// presenceView applies what one connection receives, as the web client does.
type presenceView struct {
	online map[int64]bool
}

func (v *presenceView) apply(f map[string]any) {
	ids := func(k string) []int64 {
		var out []int64
		for _, x := range f[k].([]any) {
			out = append(out, int64(x.(float64)))
		}
		return out
	}
	switch f["type"] {
	case "presence":
		v.online[int64(f["user_id"].(float64))] = f["online"].(bool)
	case "presence_snapshot":
		v.online = map[int64]bool{}
		for _, id := range ids("user_ids") {
			v.online[id] = true
		}
	case "presence_changes":
		for _, id := range ids("online") {
			v.online[id] = true
		}
		for _, id := range ids("offline") {
			v.online[id] = false
		}
	}
}

func (v *presenceView) count() int {
	n := 0
	for _, on := range v.online {
		if on {
			n++
		}
	}
	return n
}

// Over real sockets, both forms of presence converge on who is online (the
// member list's dots and "N online"), while users come and go.
func TestPresenceStaysRightOverSockets(t *testing.T) {
	hub := NewHub()
	hub.PresenceEvery = 10 * time.Millisecond
	url := testServer(t, hub)
	type watcher struct {
		mu   sync.Mutex
		view presenceView
	}
	watch := func(uid int64, batched bool) *watcher {
		w := &watcher{view: presenceView{online: map[int64]bool{}}}
		ws := dialUser(t, url, uid, batched)
		go func() {
			for {
				_, data, err := ws.ReadMessage()
				if err != nil {
					return
				}
				w.mu.Lock()
				for _, line := range bytes.Split(data, []byte("\n")) {
					var f map[string]any
					if json.Unmarshal(line, &f) == nil {
						w.view.apply(f)
					}
				}
				w.mu.Unlock()
			}
		}()
		return w
	}
	v2, legacy := watch(1, true), watch(2, false)
	var others []*websocket.Conn
	for uid := int64(3); uid <= 60; uid++ {
		others = append(others, dialUser(t, url, uid, uid%2 == 0))
	}
	// Two connections of one user count once.
	others = append(others, dialUser(t, url, 3, true))
	late := watch(61, true) // joins after the others: its snapshot must carry them
	settle := func(want int, offline ...int64) {
		t.Helper()
		waitFor(t, fmt.Sprintf("%d online everywhere", want), func() bool {
			if hub.Online() != want {
				return false
			}
			for _, w := range []*watcher{v2, legacy, late} {
				w.mu.Lock()
				ok := w.view.count() == want
				for _, id := range offline {
					ok = ok && !w.view.online[id]
				}
				w.mu.Unlock()
				if !ok {
					return false
				}
			}
			return true
		})
	}
	// The legacy snapshot leaves out the user itself, as before; user 2 learns
	// of itself from the changes, like every other connection.
	settle(61)
	for _, c := range others[:10] { // users 3..12; user 3 keeps its second connection
		c.Close()
	}
	settle(52, 4, 5, 12)
	others[len(others)-1].Close() // user 3's last connection
	settle(51, 3)
}

// A client that stops reading is cut once what is queued for it passes the
// bound, and the others go on.
func TestStalledClientIsCut(t *testing.T) {
	hub := NewHub()
	hub.PresenceEvery = time.Hour
	url := testServer(t, hub)
	stalled := dialUser(t, url, 1, true) // never read again
	_ = stalled
	healthy := dialUser(t, url, 2, true)
	waitFor(t, "two connections", func() bool { return hub.Connections() == 2 })
	c, h := clientOf(hub, 1), clientOf(hub, 2)
	queued := func(c *Client) int {
		c.qmu.Lock()
		defer c.qmu.Unlock()
		return c.qbytes
	}
	got := make(chan int, 1)
	go func() {
		n := 0
		for {
			_, data, err := healthy.ReadMessage()
			if err != nil {
				got <- n
				return
			}
			n += bytes.Count(data, []byte(`"code":"burst"`))
		}
	}()
	frame := ErrorFrame{Type: "error", Code: "burst", Message: strings.Repeat("s", 4000)}
	sent := 0
	for {
		select {
		case <-c.done:
		default:
			hub.Broadcast(frame)
			sent++
			// The healthy reader keeps up; only the stalled one falls behind.
			waitFor(t, "the healthy client to catch up", func() bool { return queued(h) < 1<<20 })
			if sent > 100_000 { // 400 MB: far past any socket buffer
				t.Fatal("the stalled client was never cut")
			}
			continue
		}
		break
	}
	if c.code != CloseSlowConsumer {
		t.Fatalf("closed with %d %q, want %d", c.code, c.reason, CloseSlowConsumer)
	}
	if q := queued(c); q != 0 {
		t.Fatalf("the cut client still holds %d queued bytes", q)
	}
	waitFor(t, "the stalled connection to go", func() bool { return hub.Connections() == 1 })
	if clientOf(hub, 2) == nil {
		t.Fatal("the healthy client was dropped too")
	}
	healthy.Close()
	if n := <-got; n == 0 {
		t.Fatal("the healthy client received nothing")
	}
}

// A burst far larger than a frame count would allow (20,000 frames at once)
// reaches a client that reads, and it stays connected.
func TestBurstToHealthyClientIsNotEvicted(t *testing.T) {
	for _, batched := range []bool{true, false} {
		t.Run(fmt.Sprint("batched=", batched), func(t *testing.T) {
			hub := NewHub()
			hub.PresenceEvery = time.Hour
			url := testServer(t, hub)
			ws := dialUser(t, url, 1, batched)
			waitFor(t, "the connection", func() bool { return hub.Connections() == 1 })
			const n = 20_000
			go func() {
				for i := range n {
					hub.Broadcast(ErrorFrame{Type: "error", Code: "b", Message: strconv.Itoa(i)})
				}
			}()
			seen := 0
			for seen < n {
				_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
				_, data, err := ws.ReadMessage()
				if err != nil {
					t.Fatalf("after %d frames: %v", seen, err)
				}
				for _, line := range bytes.Split(data, []byte("\n")) {
					if !bytes.Contains(line, []byte(`"code":"b"`)) {
						continue // ready, presence
					}
					if want := fmt.Sprintf(`"message":"%d"`, seen); !bytes.Contains(line, []byte(want)) {
						t.Fatalf("frame %d: %s", seen, line)
					}
					seen++
				}
			}
			c := clientOf(hub, 1)
			select {
			case <-c.done:
				t.Fatalf("closed with %d %q", c.code, c.reason)
			default:
			}
		})
	}
}
