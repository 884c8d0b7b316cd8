package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"teamchat/server/realtime"
	"teamchat/server/servertest"
)

// rawFrames reads one WebSocket message and returns its frames (one per line).
func rawFrames(t *testing.T, c *websocket.Conn) []map[string]any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range bytes.Split(data, []byte("\n")) {
		var f map[string]any
		if err := json.Unmarshal(line, &f); err != nil {
			t.Fatalf("not one JSON object a line: %q", data)
		}
		out = append(out, f)
	}
	return out
}

// The real server negotiates teamchat.v2 when asked, and only then: the
// answer names it, presence comes as lists and a subscribe's answers may
// share a message; a client that does not ask keeps one frame per message.
func TestWSNegotiatedProtocol(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	ann := env.AddUser("ann", "user")
	ben := env.AddUser("ben", "user")
	u := "ws" + strings.TrimPrefix(env.URL, "http") + "/api/v1/ws"
	dial := func(tok string, protos ...string) *websocket.Conn {
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: protos}
		c, res, err := d.Dial(u, http.Header{"Authorization": {"Bearer " + tok}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if want := strings.Join(protos, ""); res.Header.Get("Sec-WebSocket-Protocol") != want && want == realtime.Protocol {
			t.Fatalf("answer protocol %q", res.Header.Get("Sec-WebSocket-Protocol"))
		}
		return c
	}
	legacy := dial(ann.Token)
	if legacy.Subprotocol() != "" {
		t.Fatalf("unasked protocol %q", legacy.Subprotocol())
	}
	if f := rawFrames(t, legacy); len(f) != 1 || f[0]["type"] != "ready" {
		t.Fatalf("legacy first message %v", f)
	}
	// Unknown protocols are not chosen.
	if c := dial(ben.Token, "something.else"); c.Subprotocol() != "" {
		t.Fatalf("chose %q", c.Subprotocol())
	}
	v2 := dial(ben.Token, realtime.Protocol)
	if v2.Subprotocol() != realtime.Protocol {
		t.Fatalf("protocol %q", v2.Subprotocol())
	}
	// ready, then the snapshot; then, within the announcement interval, the
	// changes that bring ann (and ben) online.
	var seen []string
	online := map[float64]bool{}
	for !online[float64(ann.ID())] {
		for _, f := range rawFrames(t, v2) {
			seen = append(seen, f["type"].(string))
			switch f["type"] {
			case "presence_snapshot":
				for _, id := range f["user_ids"].([]any) {
					online[id.(float64)] = true
				}
			case "presence_changes":
				for _, id := range f["online"].([]any) {
					online[id.(float64)] = true
				}
			case "presence":
				t.Fatalf("per-user presence on a negotiated connection: %v", f)
			}
		}
	}
	if seen[0] != "ready" || seen[1] != "presence_snapshot" {
		t.Fatalf("frames %v", seen)
	}
	// The legacy connection hears of ben one frame per message.
	for {
		f := rawFrames(t, legacy)
		if len(f) != 1 {
			t.Fatalf("legacy message with %d frames", len(f))
		}
		if f[0]["type"] == "presence" && f[0]["user_id"] == float64(ben.ID()) && f[0]["online"] == true {
			break
		}
	}
	// A send's ack and the message itself may come in one message.
	if err := v2.WriteJSON(map[string]any{"type": "subscribe", "conversation_id": 1}); err != nil {
		t.Fatal(err)
	}
	// A subscribe without after_seq starts after the conversation's last seq at
	// the time it runs, so the send waits for it.
	got := map[string]bool{}
	for !got["subscribed"] {
		for _, f := range rawFrames(t, v2) {
			got[f["type"].(string)] = true
		}
	}
	if err := v2.WriteJSON(send(1, "v2-1", "batched hello")); err != nil {
		t.Fatal(err)
	}
	for !got["ack"] || !got["message"] || !got["subscribed"] {
		for _, f := range rawFrames(t, v2) {
			got[f["type"].(string)] = true
		}
	}
}
