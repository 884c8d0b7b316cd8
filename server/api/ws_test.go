package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"teamchat/server/config"
	"teamchat/server/servertest"
)

func send(conv int64, clientID, body string) map[string]any {
	return map[string]any{"type": "send", "conversation_id": conv, "client_id": clientID, "body": body}
}

func TestWSDeliveryAckAndEcho(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	a := env.AddUser("ann", "user").DialWS()
	b := env.AddUser("ben", "user").DialWS()
	a.Send(map[string]any{"type": "subscribe", "conversation_id": 1})
	if f := a.Expect("subscribed"); f.Int("last_seq") != 0 || f["has_more"] != false {
		t.Fatalf("subscribed: %v", f)
	}
	b.Send(map[string]any{"type": "subscribe", "conversation_id": 1})
	b.Expect("subscribed")
	a.Send(send(1, "a-1", "hi **all**"))
	// The sender gets its message and the ack (committed: the REST read sees it).
	var ack servertest.Frame
	for ack == nil {
		f := a.Next()
		switch f.Type() {
		case "ack":
			ack = f
		case "message", "presence":
		default:
			t.Fatalf("unexpected %v", f)
		}
	}
	if ack["client_id"] != "a-1" || ack.Seq() != 1 {
		t.Fatalf("ack: %v", ack)
	}
	if m := b.Expect("message").Message(); m["body"] != "hi **all**" || m["client_id"] != "a-1" {
		t.Fatalf("b got %v", m)
	}
	page := env.Login("ben").Must(200, "GET", "/api/v1/conversations/1/messages?after_seq=0", nil)
	if !strings.Contains(string(page.Body), "hi **all**") {
		t.Fatalf("acked message not stored: %s", page.Body)
	}
	// Resending the same client_id acks the stored message again and stores nothing.
	a.Send(send(1, "a-1", "hi **all**"))
	if f := a.Expect("ack"); f.Seq() != 1 {
		t.Fatalf("resend ack %v", f)
	}
	a.Send(send(1, "a-1", "something else"))
	if f := a.Expect("error"); f["code"] != "conflict" || f["client_id"] != "a-1" {
		t.Fatalf("conflict: %v", f)
	}
	a.Send(send(1, "a-2", "second"))
	if f := a.Expect("message"); f.Seq() != 2 {
		t.Fatalf("second message seq %d", f.Seq())
	}
	if f := b.Expect("message"); f.Seq() != 2 {
		t.Fatalf("b second seq %d", f.Seq())
	}
}

func TestWSResumeHasNoGapAndNoDuplicate(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	writer := env.AddUser("wri", "user")
	reader := env.AddUser("rea", "user")
	for i := 1; i <= 30; i++ {
		writer.Must(201, "POST", "/api/v1/conversations/1/messages", map[string]any{"body": fmt.Sprintf("m%d", i)})
	}
	// Subscribe with after_seq while other senders keep posting: the reader must
	// see seq 11..N exactly once, in order, across the backlog/live boundary.
	ws := reader.DialWS()
	senders := env.AddUser("sen", "user").DialWS()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 200 {
			senders.Send(send(1, fmt.Sprintf("s-%d", i), fmt.Sprintf("live %d", i)))
		}
	}()
	ws.Send(map[string]any{"type": "subscribe", "conversation_id": 1, "after_seq": 10})
	next := int64(11)
	subscribed := false
	for next <= 230 {
		f := ws.Next()
		switch f.Type() {
		case "message":
			if f.Seq() != next {
				t.Fatalf("got seq %d, want %d (subscribed=%v)", f.Seq(), next, subscribed)
			}
			next++
		case "subscribed":
			subscribed = true
			if f.Int("last_seq") != next-1 {
				t.Fatalf("subscribed.last_seq %d after delivering up to %d", f.Int("last_seq"), next-1)
			}
		case "presence", "activity":
		default:
			t.Fatalf("unexpected %v", f)
		}
	}
	wg.Wait()
	if !subscribed {
		t.Fatal("no subscribed frame")
	}
}

func TestWSBacklogOverLimitSaysHasMore(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	w := env.AddUser("wri", "user").DialWS()
	w.Send(map[string]any{"type": "subscribe", "conversation_id": 1})
	w.Expect("subscribed")
	for chunk := 0; chunk < 1005; chunk += 201 {
		for i := chunk; i < chunk+201; i++ {
			w.Send(send(1, fmt.Sprintf("c%d", i), "x"))
		}
		for acks := 0; acks < 201; {
			if w.Next().Type() == "ack" {
				acks++
			}
		}
	}
	r := env.AddUser("rea", "user").DialWS()
	r.Send(map[string]any{"type": "subscribe", "conversation_id": 1, "after_seq": 0})
	for i := int64(1); i <= 1000; i++ {
		if f := r.Expect("message"); f.Seq() != i {
			t.Fatalf("backlog seq %d, want %d", f.Seq(), i)
		}
	}
	f := r.Expect("subscribed")
	if f["has_more"] != true || f.Int("last_seq") != 1005 {
		t.Fatalf("subscribed %v", f)
	}
	w.Send(send(1, "after", "live"))
	if f := r.Expect("message"); f.Seq() != 1006 {
		t.Fatalf("live after has_more: seq %d", f.Seq())
	}
}

func TestWSConcurrentSendersGetContiguousSeqs(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	watcher := env.AddUser("watch", "user").DialWS()
	watcher.Send(map[string]any{"type": "subscribe", "conversation_id": 1})
	watcher.Expect("subscribed")
	const senders, each = 10, 40
	var wg sync.WaitGroup
	for s := range senders {
		c := env.AddUser(fmt.Sprintf("s%02d", s), "user").DialWS()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				c.Send(send(1, fmt.Sprintf("%d-%d", s, i), fmt.Sprintf("from %d #%d", s, i)))
			}
		}()
	}
	seen := map[string]bool{}
	for want := int64(1); want <= senders*each; want++ {
		f := watcher.Expect("message")
		if f.Seq() != want {
			t.Fatalf("seq %d, want %d", f.Seq(), want)
		}
		body := f.Message()["body"].(string)
		if seen[body] {
			t.Fatalf("duplicate %q", body)
		}
		seen[body] = true
	}
	wg.Wait()
}

func TestWSOriginAllowlist(t *testing.T) {
	env := servertest.Start(t, func(c *config.Config) { c.Origins = []string{"https://chat.school.example"} })
	env.AddUser("prof", "admin")
	stu := env.AddUser("stu", "user")
	sess := env.Session("stu")
	cookie := ""
	for _, c := range sess.HTTP.Jar.Cookies(mustParse(env.URL)) {
		cookie = c.Name + "=" + c.Value
	}
	port := env.URL[strings.LastIndex(env.URL, ":")+1:]
	accept := []string{env.URL, "wails://wails", "http://wails.localhost", "https://chat.school.example", "HTTP://127.0.0.1:" + port}
	refuse := []string{"http://evil.example", "null", "http://127.0.0.1:1", "https://127.0.0.1:" + port, "http://localhost.evil:" + port,
		"wails://wails.evil", "http://wails.localhost.evil.com", "http://wails.localhost:8080", "https://chat.school.example.evil", "file://"}
	for _, o := range accept {
		ws, res, err := env.Dial(http.Header{"Origin": {o}, "Cookie": {cookie}})
		if err != nil {
			t.Fatalf("origin %q refused: %v (%v)", o, err, res)
		}
		ws.Expect("ready")
		ws.Close()
	}
	for _, o := range refuse {
		for _, h := range []http.Header{{"Origin": {o}, "Cookie": {cookie}}, {"Origin": {o}, "Authorization": {"Bearer " + stu.Token}}} {
			_, res, err := env.Dial(h)
			if err == nil || res == nil || res.StatusCode != 403 {
				t.Fatalf("origin %q accepted (err %v)", o, err)
			}
		}
	}
	// Cookie without any Origin: refused (a browser always sends one).
	if _, res, err := env.Dial(http.Header{"Cookie": {cookie}}); err == nil || res.StatusCode != 403 {
		t.Fatalf("cookie without Origin accepted")
	}
	// Token without Origin (an API client): accepted.
	ws, _, err := env.Dial(http.Header{"Authorization": {"Bearer " + stu.Token}})
	if err != nil {
		t.Fatal(err)
	}
	ws.Expect("ready")
}

func TestWSFirstFrameAuth(t *testing.T) {
	env := servertest.Start(t)
	env.Srv.Chat().Hub().AuthWait = 300 * time.Millisecond
	stu := env.AddUser("stu", "user")
	ws, _, err := env.Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.Send(map[string]any{"type": "auth", "token": stu.Token})
	if u := ws.Expect("ready")["user"].(map[string]any); u["username"] != "stu" {
		t.Fatalf("ready: %v", u)
	}
	// Anything before auth closes with 4401.
	ws2, _, _ := env.Dial(nil)
	ws2.Send(map[string]any{"type": "subscribe", "conversation_id": 1})
	if code := ws2.WaitClose(); code != 4401 {
		t.Fatalf("close %d", code)
	}
	// A bad token closes with 4401.
	ws3, _, _ := env.Dial(nil)
	ws3.Send(map[string]any{"type": "auth", "token": "nope"})
	if code := ws3.WaitClose(); code != 4401 {
		t.Fatalf("close %d", code)
	}
	// Silence closes with 4401 after the auth wait.
	ws4, _, _ := env.Dial(nil)
	if code := ws4.WaitClose(); code != 4401 {
		t.Fatalf("close %d", code)
	}
}

func TestWSAuthorizationIDOR(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	owner := env.AddUser("own", "user")
	r := owner.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Private"})
	conv := int64(r.JSON()["id"].(float64))
	spy := env.AddUser("spy", "user").DialWS()
	spy.Send(map[string]any{"type": "subscribe", "conversation_id": conv, "after_seq": 0})
	if f := spy.Expect("error"); f["code"] != "not_found" {
		t.Fatalf("subscribe: %v", f)
	}
	spy.Send(send(conv, "x", "intrusion"))
	if f := spy.Expect("error"); f["code"] != "not_found" || f["client_id"] != "x" {
		t.Fatalf("send: %v", f)
	}
	spy.Send(map[string]any{"type": "typing", "conversation_id": conv})
	spy.Expect("error")
	spy.Send(map[string]any{"type": "read", "conversation_id": conv, "seq": 1})
	spy.Expect("error")
	spy.Send(map[string]any{"type": "subscribe", "conversation_id": 999999})
	spy.Expect("error")
	owner.Must(201, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), map[string]any{"body": "secret"})
	// The spy's next frame is the answer to its own later request: nothing from conv came in between.
	spy.Send(map[string]any{"type": "subscribe", "conversation_id": 1})
	if f := spy.Expect("subscribed"); f.Int("conversation_id") != 1 {
		t.Fatalf("%v", f)
	}
	page := owner.Must(200, "GET", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), nil)
	if strings.Contains(string(page.Body), "intrusion") {
		t.Fatal("the spy's message was stored")
	}
	// A removed member stops receiving at once.
	mem := env.AddUser("mem", "user")
	owner.Must(201, "POST", fmt.Sprintf("/api/v1/conversations/%d/members", conv), map[string]any{"user_id": mem.ID()})
	mws := mem.DialWS()
	mws.Send(map[string]any{"type": "subscribe", "conversation_id": conv})
	mws.Expect("subscribed")
	owner.Must(204, "DELETE", fmt.Sprintf("/api/v1/conversations/%d/members/%d", conv, mem.ID()), nil)
	mws.Expect("member_removed")
	mws.Expect("unsubscribed")
	owner.Must(201, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), map[string]any{"body": "after removal"})
	mws.Send(send(conv, "m", "still here?"))
	if f := mws.Expect("error"); f["code"] != "not_found" {
		t.Fatalf("removed member send: %v", f)
	}
}

func TestWSMalformedFramesKeepTheConnection(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	stu := env.AddUser("stu", "user")
	ws := stu.DialWS()
	bad := []string{`not json`, `{"type":"dance"}`, `{"conversation_id":1}`, `{"type":"send","conversation_id":1,"client_id":"x","body":"a","extra":1}`,
		`{"type":"send","conversation_id":"one"}`, `{"type":"subscribe"}`, `[]`, `{"type":"send","conversation_id":1}{"type":"x"}`,
		`{"type":"send","conversation_id":1,"client_id":"n","body":"a\u0000b"}`, `{"type":"send","conversation_id":1,"client_id":"e","body":"   "}`,
		`{"type":"send","conversation_id":1,"body":"no client id"}`, strings.Repeat("[", 50000),
		`{"TYPE":"send","Conversation_Id":1,"Body":"x","CLIENT_ID":"c"}`, `{"type":"send","conversation_id":1,"conversation_id":2,"type":"typing"}`,
		`{"type":"auth","token":"a","token":"b"}`}
	for _, b := range bad {
		if err := ws.SendRaw(websocket.TextMessage, []byte(b)); err != nil {
			t.Fatal(err)
		}
		if f := ws.Expect("error"); f["code"] != "bad_request" {
			t.Fatalf("%q: %v", b, f)
		}
	}
	if err := ws.SendRaw(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	ws.Expect("error")
	ws.Send(map[string]any{"type": "subscribe", "conversation_id": 1})
	ws.Expect("subscribed")
	// Invalid UTF-8 closes with 1007.
	_ = ws.SendRaw(websocket.TextMessage, []byte("{\"type\":\"send\",\"body\":\"\xc3\x28\"}"))
	if code := ws.WaitClose(); code != websocket.CloseInvalidFramePayloadData {
		t.Fatalf("close %d, want 1007", code)
	}
	// A frame over 64 KiB closes with 1009.
	ws2 := stu.DialWS()
	_ = ws2.SendRaw(websocket.TextMessage, []byte(`{"type":"send","body":"`+strings.Repeat("x", 70<<10)+`"}`))
	if code := ws2.WaitClose(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close %d, want 1009", code)
	}
}

func TestWSTypingPresenceActivity(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	a := env.AddUser("ann", "user")
	b := env.AddUser("ben", "user")
	aw := a.DialWS()
	bw := b.DialWS()
	for f := aw.Next(); f.Int("user_id") != b.ID(); f = aw.Next() {
		if f.Type() != "presence" || f.Int("user_id") != a.ID() {
			t.Fatalf("before ben's presence: %v", f)
		}
	}
	aw.Send(map[string]any{"type": "subscribe", "conversation_id": 1})
	aw.Expect("subscribed")
	bw.Send(map[string]any{"type": "subscribe", "conversation_id": 1})
	bw.Expect("subscribed")
	bw.Send(map[string]any{"type": "typing", "conversation_id": 1})
	bw.Send(map[string]any{"type": "typing", "conversation_id": 1}) // within 2 s: dropped
	bw.Send(send(1, "b1", "typed"))
	if f := aw.Next(); f.Type() != "typing" || f["user"].(map[string]any)["username"] != "ben" {
		t.Fatalf("typing: %v", f)
	}
	if f := aw.Next(); f.Type() != "message" {
		t.Fatalf("second typing was relayed: %v", f)
	}
	// The sender never sees its own typing.
	for f := bw.Next(); f.Type() != "ack"; f = bw.Next() {
		if f.Type() == "typing" {
			t.Fatal("typing echoed to the sender")
		}
	}
	// Unsubscribed members get activity frames for unread badges.
	aw.Send(map[string]any{"type": "unsubscribe", "conversation_id": 1})
	aw.Expect("unsubscribed")
	bw.Send(send(1, "b2", "are you there"))
	if f := aw.Expect("activity"); f.Int("conversation_id") != 1 || f.Int("last_seq") != 2 {
		t.Fatalf("activity: %v", f)
	}
	convs := a.Must(200, "GET", "/api/v1/conversations", nil)
	if !strings.Contains(string(convs.Body), `"unread":2`) {
		t.Fatalf("unread: %s", convs.Body)
	}
	aw.Send(map[string]any{"type": "read", "conversation_id": 1, "seq": 2})
	servertest.Eventually(t, "read marker", func() bool {
		return strings.Contains(string(a.Must(200, "GET", "/api/v1/conversations", nil).Body), `"unread":0`)
	})
	bw.Close()
	if f := aw.Expect("presence"); f["online"] != false {
		t.Fatalf("offline presence: %v", f)
	}
}

func TestWSSlowConsumerIsEvictedWithoutSlowingOthers(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	slow := env.AddUser("slow", "user")
	fast := env.AddUser("fast", "user").DialWS()
	fast.Send(map[string]any{"type": "subscribe", "conversation_id": 1})
	fast.Expect("subscribed")
	// The slow client subscribes and then never reads: a raw connection.
	u := "ws" + strings.TrimPrefix(env.URL, "http") + "/api/v1/ws"
	raw, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Authorization": {"Bearer " + slow.Token}})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.WriteJSON(map[string]any{"type": "subscribe", "conversation_id": 1}); err != nil {
		t.Fatal(err)
	}
	sender := env.AddUser("send", "user").DialWS()
	hub := env.Srv.Chat().Hub()
	servertest.Eventually(t, "three connections", func() bool { return hub.Connections() == 3 })
	// The sender goes in windows the fast client has read, so only the slow
	// one builds a queue, and goes on until the slow one is cut: how soon that
	// happens depends on socket buffers and the machine's load, not on the test.
	body := strings.Repeat("y", 3900)
	const window = 100
	deadline := time.Now().Add(2 * time.Minute)
	seq := int64(0)
	for hub.Connections() == 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the slow consumer was not evicted after %d messages", seq)
		}
		for i := range window {
			sender.Send(send(1, fmt.Sprintf("f%d-%d", seq, i), body))
		}
		for range window {
			seq++
			if f := fast.Expect("message"); f.Seq() != seq {
				t.Fatalf("fast client seq %d, want %d", f.Seq(), seq)
			}
		}
	}
	if hub.Connections() != 2 {
		t.Fatalf("%d connections after the eviction, want the fast and the sending one", hub.Connections())
	}
}

func mustParse(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
