package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"teamchat/server/config"
	"teamchat/server/servertest"
)

// sseEvent is one Server-Sent Event as a browser's EventSource would see it.
type sseEvent struct {
	event, id, data string
}

type sseConn struct {
	t      *testing.T
	events chan sseEvent // closed when the stream ends
	cancel context.CancelFunc
	lastID string
	stream string
}

// openStream GETs /api/v1/events with c's credentials (no validating
// transport: its body never ends) and reads the events in the background.
func openStream(t *testing.T, c *servertest.Client, query string, h http.Header) (*sseConn, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", c.Env.URL+"/api/v1/events"+query, nil)
	for k, v := range h {
		req.Header[k] = v
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	res, err := (&http.Client{Jar: c.HTTP.Jar}).Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET events: %v", err)
	}
	if res.StatusCode != 200 {
		res.Body.Close()
		cancel()
		return nil, res
	}
	s := &sseConn{t: t, events: make(chan sseEvent, 10000), cancel: cancel}
	t.Cleanup(s.close)
	go func() {
		defer close(s.events)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.data != "" {
					if ev.event == "" && servertest.CheckFrame != nil {
						servertest.CheckFrame([]byte(ev.data))
					}
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry: "):
			case strings.HasPrefix(line, "event: "):
				ev.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			default:
				ev.data = "<bad line " + line + ">"
			}
		}
	}()
	first := s.next()
	if first.event != "stream" {
		t.Fatalf("first event %+v, want event: stream", first)
	}
	var st struct {
		StreamID string `json:"stream_id"`
	}
	if json.Unmarshal([]byte(first.data), &st) != nil || len(st.StreamID) != 32 {
		t.Fatalf("stream event %q", first.data)
	}
	s.stream = st.StreamID
	return s, res
}

func (s *sseConn) close() { s.cancel() }

func (s *sseConn) next() sseEvent {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatalf("event stream ended while waiting for an event")
		}
		if ev.id != "" {
			s.lastID = ev.id
		}
		return ev
	case <-time.After(10 * time.Second):
		s.t.Fatalf("no event within 10 s")
	}
	return sseEvent{}
}

// expect returns the next frame of type typ, skipping presence noise; any
// other frame fails.
func (s *sseConn) expect(typ string) servertest.Frame {
	s.t.Helper()
	for {
		ev := s.next()
		if ev.event != "" {
			s.t.Fatalf("got event %q (%s), want frame %q", ev.event, ev.data, typ)
		}
		var f servertest.Frame
		if err := json.Unmarshal([]byte(ev.data), &f); err != nil {
			s.t.Fatalf("data %q: %v", ev.data, err)
		}
		if f.Type() == typ {
			return f
		}
		if f.Type() == "presence" || f.Type() == "activity" {
			continue
		}
		s.t.Fatalf("got frame %v, want %q", f, typ)
	}
}

// waitEnd waits for the server to end the stream and returns its close event's data.
func (s *sseConn) waitEnd() string {
	s.t.Helper()
	closeData := ""
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return closeData
			}
			if ev.event == "close" {
				closeData = ev.data
			}
		case <-deadline:
			s.t.Fatalf("stream not ended within 20 s")
		}
	}
}

func (s *sseConn) post(c *servertest.Client, frame any) servertest.Resp {
	s.t.Helper()
	return c.Do("POST", "/api/v1/events/"+s.stream, frame)
}

func TestEventStreamLiveResumeExactlyOnce(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "user")
	alice := env.Session("alice") // the browser's way: cookie + CSRF
	bob := env.AddUser("bob", "user")
	conv := idOf(alice.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "SSE", "member_ids": []int64{bob.ID()}}))
	msgs := fmt.Sprintf("/api/v1/conversations/%d/messages", conv)

	s, _ := openStream(t, alice, fmt.Sprintf("?subscribe=%d:0", conv), nil)
	if r := s.expect("ready"); int64(r["user"].(map[string]any)["id"].(float64)) != alice.ID() {
		t.Fatalf("ready for %v", r)
	}
	s.expect("subscribed")
	for i := 1; i <= 3; i++ {
		bob.Must(201, "POST", msgs, map[string]any{"body": fmt.Sprintf("live %d", i)})
		if f := s.expect("message"); f.Seq() != int64(i) {
			t.Fatalf("live message seq %d, want %d", f.Seq(), i)
		}
	}
	if want := fmt.Sprintf("%d:3", conv); s.lastID != want {
		t.Fatalf("event id %q, want %q", s.lastID, want)
	}

	// Sends over REST with a client_id: the stream carries the message once,
	// however often the send is retried.
	alice.Must(201, "POST", msgs, map[string]any{"body": "mine", "client_id": "c-1"})
	alice.Must(200, "POST", msgs, map[string]any{"body": "mine", "client_id": "c-1"})
	if f := s.expect("message"); f.Seq() != 4 || f.Message()["client_id"] != "c-1" {
		t.Fatalf("own message %v", f)
	}
	// A frame over REST is answered on the stream, exactly as on the socket.
	s.post(alice, map[string]any{"type": "send", "conversation_id": conv, "client_id": "c-2", "body": "framed"})
	if r := s.post(alice, map[string]any{"type": "send", "conversation_id": conv, "client_id": "c-2", "body": "framed"}); r.Status != 204 {
		t.Fatalf("send frame: %d %s", r.Status, r.Body)
	}
	got := map[string]int{}
	for len(got) < 2 || got["ack"] < 2 {
		f := s.expect2("message", "ack")
		got[f.Type()]++
		if f.Seq() != 5 {
			t.Fatalf("%s seq %d, want 5", f.Type(), f.Seq())
		}
		if got["message"] > 1 {
			t.Fatalf("message 5 delivered twice")
		}
	}
	if r := s.post(alice, map[string]any{"type": "ping"}); r.Status != 204 {
		t.Fatalf("ping: %d %s", r.Status, r.Body)
	}
	s.expect("pong")
	if r := s.post(alice, map[string]any{"type": "auth", "token": "x"}); r.Status != 400 {
		t.Fatalf("auth frame over REST: %d", r.Status)
	}
	if r := s.post(alice, `{"type":"subscribe"}`); r.Status != 400 || r.ErrCode() != "bad_request" {
		t.Fatalf("bad frame: %d %s", r.Status, r.Body)
	}
	last := s.lastID
	s.close()
	// The ended stream takes no more frames.
	servertest.Eventually(t, "stream gone", func() bool {
		return s.post(alice, map[string]any{"type": "ping"}).Status == 404
	})

	// Offline: two more. The reconnect names the original after_seq=0 but
	// Last-Event-ID wins: exactly 6 and 7, then live 8.
	bob.Must(201, "POST", msgs, map[string]any{"body": "while away 1"})
	bob.Must(201, "POST", msgs, map[string]any{"body": "while away 2"})
	s2, _ := openStream(t, alice, fmt.Sprintf("?subscribe=%d:0", conv), http.Header{"Last-Event-ID": {last}})
	s2.expect("ready")
	for _, want := range []int64{6, 7} {
		if f := s2.expect("message"); f.Seq() != want {
			t.Fatalf("resumed seq %d, want %d", f.Seq(), want)
		}
	}
	if f := s2.expect("subscribed"); f.Int("last_seq") != 7 {
		t.Fatalf("subscribed %v", f)
	}
	bob.Must(201, "POST", msgs, map[string]any{"body": "live again"})
	if f := s2.expect("message"); f.Seq() != 8 {
		t.Fatalf("live after resume: seq %d", f.Seq())
	}
	// Subscriptions can change on an open stream.
	s2.post(alice, map[string]any{"type": "unsubscribe", "conversation_id": conv})
	s2.expect("unsubscribed")
	s2.post(alice, map[string]any{"type": "subscribe", "conversation_id": conv, "after_seq": 7})
	if f := s2.expect("message"); f.Seq() != 8 {
		t.Fatalf("re-subscribe backlog seq %d", f.Seq())
	}
	s2.expect("subscribed")
}

// expect2 is expect for either of two frame types.
func (s *sseConn) expect2(a, b string) servertest.Frame {
	s.t.Helper()
	for {
		ev := s.next()
		var f servertest.Frame
		if err := json.Unmarshal([]byte(ev.data), &f); err != nil || ev.event != "" {
			s.t.Fatalf("event %+v", ev)
		}
		if f.Type() == a || f.Type() == b {
			return f
		}
		if f.Type() != "presence" && f.Type() != "activity" {
			s.t.Fatalf("got frame %v, want %q or %q", f, a, b)
		}
	}
}

func TestEventStreamAuthorization(t *testing.T) {
	env := servertest.Start(t)
	admin := env.AddUser("prof", "admin")
	alice := env.AddUser("alice", "user")
	bob := env.AddUser("bob", "user")
	carol := env.AddUser("carol", "user")
	conv := idOf(alice.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Private", "member_ids": []int64{bob.ID()}}))
	msgs := fmt.Sprintf("/api/v1/conversations/%d/messages", conv)

	// Refusals answer the error envelope before any stream starts.
	if r := env.Anon().Do("GET", "/api/v1/events", nil); r.Status != 401 || r.ErrCode() != "unauthorized" {
		t.Fatalf("anonymous: %d %s", r.Status, r.Body)
	}
	for _, q := range []string{"?subscribe=0", "?subscribe=1:-1", "?subscribe=x", fmt.Sprintf("?subscribe=%d&subscribe=%d", conv, conv)} {
		if r := carol.Do("GET", "/api/v1/events"+q, nil); r.Status != 400 || r.ErrCode() != "bad_request" {
			t.Fatalf("%s: %d %s", q, r.Status, r.Body)
		}
	}
	evil := *carol
	evil.Header = http.Header{"Origin": {"http://evil.example"}}
	if r := evil.Do("GET", "/api/v1/events", nil); r.Status != 403 {
		t.Fatalf("foreign origin: %d %s", r.Status, r.Body)
	}
	withID := *carol
	withID.Header = http.Header{"Last-Event-ID": {"garbage"}}
	if r := withID.Do("GET", "/api/v1/events", nil); r.Status != 400 {
		t.Fatalf("bad Last-Event-ID: %d %s", r.Status, r.Body)
	}

	// A non-member subscribing gets not_found, as on the socket, and nothing of the conversation.
	cs, _ := openStream(t, carol, fmt.Sprintf("?subscribe=%d:0", conv), nil)
	cs.expect("ready")
	if f := cs.expect("error"); f["code"] != "not_found" {
		t.Fatalf("non-member subscribe: %v", f)
	}
	as, _ := openStream(t, alice, fmt.Sprintf("?subscribe=%d", conv), nil)
	as.expect("ready")
	as.expect("subscribed")
	bob.Must(201, "POST", msgs, map[string]any{"body": "secret"})
	as.expect("message")
	// Carol's stream: the next frame after her ping is the pong, no message in between.
	cs.post(carol, map[string]any{"type": "ping"})
	cs.expect("pong")
	// Another user's stream id is as good as none.
	if r := as.post(carol, map[string]any{"type": "subscribe", "conversation_id": conv}); r.Status != 404 {
		t.Fatalf("frame to another user's stream: %d %s", r.Status, r.Body)
	}
	// Cookie frames need the CSRF token, as every unsafe request.
	env.Session("alice")
	sess := env.Session("alice")
	ss, _ := openStream(t, sess, "", nil)
	ss.expect("ready")
	noCSRF := *sess
	noCSRF.CSRF = ""
	if r := ss.post(&noCSRF, map[string]any{"type": "ping"}); r.Status != 403 {
		t.Fatalf("frame without CSRF: %d", r.Status)
	}

	// Disabling the account ends its streams with 4401, and it cannot open a new one.
	admin.Must(200, "PATCH", fmt.Sprintf("/api/v1/users/%d", alice.ID()), map[string]any{"disabled": true})
	for _, s := range []*sseConn{as, ss} {
		var c struct {
			Code int `json:"code"`
		}
		if d := s.waitEnd(); json.Unmarshal([]byte(d), &c) != nil || c.Code != 4401 {
			t.Fatalf("close event %q, want code 4401", d)
		}
	}
	if _, res := openStream(t, alice, "", nil); res.StatusCode != 401 {
		t.Fatalf("disabled user's new stream: %d", res.StatusCode)
	}
}

func TestEventStreamSharesTheConnectionCap(t *testing.T) {
	env := servertest.Start(t, func(c *config.Config) { c.MaxConnsPerIP = 2 })
	alice := env.AddUser("alice", "user")
	ws := alice.DialWS()
	s, _ := openStream(t, alice, "", nil)
	s.expect("ready")
	if r := alice.Do("GET", "/api/v1/events", nil); r.Status != 429 || r.ErrCode() != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("third connection: %d %s", r.Status, r.Body)
	}
	ws.Close()
	s.close()
	servertest.Eventually(t, "a slot free again", func() bool {
		s2, res := openStream(t, alice, "", nil)
		if s2 == nil {
			return res.StatusCode != 429 && t.Failed()
		}
		s2.close()
		return true
	})
}
