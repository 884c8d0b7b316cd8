package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"teamchat/docs"
	"teamchat/server/realtime"
	"teamchat/server/servertest"
)

const (
	asyncAPIURL = "file:///docs/asyncapi.yaml"
	openAPIURL  = "file:///docs/openapi.yaml" // asyncapi.yaml refers to its object schemas
)

// frameSchemas is the payload schema of every frame of docs/asyncapi.yaml, by
// direction ("send": the server sends it; "receive": the server accepts it)
// and frame type.
type frameSchemas struct {
	byType map[string]map[string]*jsonschema.Schema
}

func asJSONResource(data []byte) (any, error) {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(j))
}

func loadFrameSchemas() (*frameSchemas, error) {
	async, err := asJSONResource(docs.AsyncAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("asyncapi.yaml: %w", err)
	}
	oapi, err := asJSONResource(docs.OpenAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(asyncAPIURL, async); err != nil {
		return nil, err
	}
	if err := c.AddResource(openAPIURL, oapi); err != nil {
		return nil, err
	}
	var doc struct {
		Channels map[string]struct {
			Messages map[string]struct {
				Ref string `json:"$ref"`
			} `json:"messages"`
		} `json:"channels"`
		Operations map[string]struct {
			Action   string `json:"action"`
			Messages []struct {
				Ref string `json:"$ref"`
			} `json:"messages"`
		} `json:"operations"`
		Components struct {
			Messages map[string]struct {
				Name string `json:"name"`
			} `json:"messages"`
		} `json:"components"`
	}
	j, _ := yaml.YAMLToJSON(docs.AsyncAPIYAML)
	if err := json.Unmarshal(j, &doc); err != nil {
		return nil, err
	}
	fs := &frameSchemas{byType: map[string]map[string]*jsonschema.Schema{}}
	for opName, op := range doc.Operations {
		if fs.byType[op.Action] == nil {
			fs.byType[op.Action] = map[string]*jsonschema.Schema{}
		}
		for _, m := range op.Messages {
			// #/channels/socket/messages/<key> → #/components/messages/<key>
			parts := strings.Split(strings.TrimPrefix(m.Ref, "#/"), "/")
			if len(parts) != 4 || parts[0] != "channels" || parts[2] != "messages" {
				return nil, fmt.Errorf("operation %s: unexpected message ref %q", opName, m.Ref)
			}
			ref := doc.Channels[parts[1]].Messages[parts[3]].Ref
			key := strings.TrimPrefix(ref, "#/components/messages/")
			msg, ok := doc.Components.Messages[key]
			if !ok {
				return nil, fmt.Errorf("operation %s: %s → %q is not a component message", opName, m.Ref, ref)
			}
			sch, err := c.Compile(asyncAPIURL + "#/components/messages/" + key + "/payload")
			if err != nil {
				return nil, fmt.Errorf("message %s: %w", key, err)
			}
			if _, dup := fs.byType[op.Action][msg.Name]; dup {
				return nil, fmt.Errorf("two %s messages named %q", op.Action, msg.Name)
			}
			fs.byType[op.Action][msg.Name] = sch
		}
	}
	if len(fs.byType["send"]) == 0 || len(fs.byType["receive"]) == 0 {
		return nil, fmt.Errorf("asyncapi.yaml: want send and receive operations, got %v", doc.Operations)
	}
	return fs, nil
}

// check validates one frame; action is "send" for a server frame, "receive"
// for a client frame. It returns the frame's type.
func (fs *frameSchemas) check(action string, data []byte) (string, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("frame %.200s is not JSON: %v", data, err)
	}
	obj, _ := v.(map[string]any)
	typ, _ := obj["type"].(string)
	sch, ok := fs.byType[action][typ]
	if !ok {
		who := "server sent"
		if action == "receive" {
			who = "client sent"
		}
		return typ, fmt.Errorf("frame type %q (%s) is not in asyncapi.yaml: %.300s", typ, who, data)
	}
	if err := sch.Validate(v); err != nil {
		return typ, fmt.Errorf("frame %q does not match asyncapi.yaml: %v; frame: %.300s", typ, err, data)
	}
	return typ, nil
}

// frameWatch reads a socket's frames, validates each and remembers its type.
type frameWatch struct {
	t    *testing.T
	fs   *frameSchemas
	ws   *servertest.WS
	name string
	seen map[string]bool
	mu   *sync.Mutex
}

// await returns the next frame of type typ (and, when match is set, for which
// match holds), validating every frame on the way.
func (w *frameWatch) await(typ string, match func(servertest.Frame) bool) servertest.Frame {
	w.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-w.ws.Frames:
			if !ok {
				w.t.Fatalf("%s: socket closed while waiting for %s", w.name, typ)
			}
			raw, _ := json.Marshal(f)
			got, err := w.fs.check("send", raw)
			if err != nil {
				w.t.Errorf("%s: %v", w.name, err)
			}
			w.mu.Lock()
			w.seen[got] = true
			w.mu.Unlock()
			if got == "error" && typ != "error" {
				w.t.Fatalf("%s: error frame while waiting for %s: %v", w.name, typ, f)
			}
			if got == typ && (match == nil || match(f)) {
				return f
			}
		case <-deadline:
			w.t.Fatalf("%s: no %s frame within 10 s", w.name, typ)
		}
	}
}

// send validates a client frame against the document, then sends it.
func (w *frameWatch) send(frame map[string]any) {
	w.t.Helper()
	raw, _ := json.Marshal(frame)
	typ, err := w.fs.check("receive", raw)
	if err != nil {
		w.t.Fatalf("%s: %v", w.name, err)
	}
	w.mu.Lock()
	w.seen["client:"+typ] = true
	w.mu.Unlock()
	w.ws.Send(frame)
}

// A real session makes the server send every frame type of asyncapi.yaml and
// accept every client frame type; each frame is validated against its schema,
// and the document has no frame type the session did not see.
func TestWSFramesMatchAsyncAPI(t *testing.T) {
	fs, err := loadFrameSchemas()
	if err != nil {
		t.Fatal(err)
	}
	env := servertest.Start(t)
	admin := env.AddUser("prof", "admin")
	alice := env.AddUser("alice", "user")
	bob := env.AddUser("bob", "user")
	carol := env.AddUser("carol", "user")
	bobID, carolID := bob.ID(), carol.ID()
	admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"flag_words": []string{"homework"}})

	seen := map[string]bool{}
	mu := &sync.Mutex{}
	watch := func(name string, ws *servertest.WS) *frameWatch {
		t.Cleanup(ws.Close)
		return &frameWatch{t: t, fs: fs, ws: ws, name: name, seen: seen, mu: mu}
	}

	// Alice authenticates with her first frame, the others on the upgrade.
	u, _ := url.Parse(env.URL)
	ws, _, err := env.Dial(http.Header{"Origin": {"http://" + u.Host}})
	if err != nil {
		t.Fatal(err)
	}
	a := watch("alice", ws)
	a.send(map[string]any{"type": "auth", "token": alice.Token})
	a.await("ready", nil)
	v2 := dialV2(t, env.URL, carol.Token) // teamchat.v2: presence as lists, frames joined by lines
	b := watch("bob", bob.DialWS())
	p := watch("prof", admin.DialWS())
	for !seen["presence_snapshot"] || !seen["presence_changes"] {
		_ = v2.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := v2.ReadMessage()
		if err != nil {
			t.Fatalf("carol (teamchat.v2): %v", err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			typ, err := fs.check("send", line)
			if err != nil {
				t.Errorf("carol (teamchat.v2): %v", err)
			}
			mu.Lock()
			seen[typ] = true
			mu.Unlock()
		}
	}
	a.await("presence", func(f servertest.Frame) bool { return f.Int("user_id") == bobID && f["online"] == true })

	conv := idOf(alice.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Frames", "member_ids": []int64{bobID}}))
	for _, w := range []*frameWatch{a, b} {
		w.send(map[string]any{"type": "subscribe", "conversation_id": conv, "after_seq": 0})
		w.await("subscribed", nil)
	}

	// send → ack, message, mentioned (bob), message_flagged (admins).
	a.send(map[string]any{"type": "send", "conversation_id": conv, "client_id": "f-1", "body": "@bob the homework is due"})
	ack := a.await("ack", nil)
	msgID := int64(ack.Message()["id"].(float64))
	b.await("message", nil)
	b.await("mentioned", nil)
	p.await("message_flagged", nil)
	a.send(map[string]any{"type": "send", "conversation_id": conv, "client_id": "f-2", "body": "a reply", "reply_to": msgID})
	a.await("ack", nil)

	b.send(map[string]any{"type": "typing", "conversation_id": conv})
	a.await("typing", nil)
	b.send(map[string]any{"type": "read", "conversation_id": conv, "seq": 1})
	b.send(map[string]any{"type": "ping"})
	b.await("pong", nil)

	m := fmt.Sprintf("/api/v1/messages/%d", msgID)
	alice.Must(200, "PATCH", m, map[string]any{"body": "@bob the homework is due Friday"})
	b.await("message_edited", nil)
	bob.Must(200, "PUT", m+"/reactions/"+url.PathEscape("👍"), nil)
	a.await("reaction_added", nil)
	bob.Must(200, "DELETE", m+"/reactions/"+url.PathEscape("👍"), nil)
	a.await("reaction_removed", nil)
	alice.Must(204, "POST", m+"/pin", nil)
	b.await("message_pinned", nil)
	c := fmt.Sprintf("/api/v1/conversations/%d", conv)
	alice.Must(201, "POST", c+"/mutes", map[string]any{"user_id": bobID, "minutes": 5})
	b.await("member_muted", func(f servertest.Frame) bool { return f["until"] != nil })
	alice.Must(204, "DELETE", fmt.Sprintf("%s/mutes/%d", c, bobID), nil)
	b.await("member_muted", func(f servertest.Frame) bool { return f["until"] == nil })
	alice.Must(200, "PATCH", c, map[string]any{"name": "Frames, renamed"})
	b.await("conversation_updated", nil)
	alice.Must(201, "POST", c+"/members", map[string]any{"user_id": carolID})
	b.await("member_added", nil)
	alice.Must(204, "DELETE", fmt.Sprintf("%s/members/%d", c, carolID), nil)
	b.await("member_removed", nil)

	admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"paused": true})
	a.await("class_paused", nil)
	admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"paused": false})
	a.await("class_paused", nil)
	sess := idOf(admin.Must(201, "POST", "/api/v1/sessions", map[string]any{"name": "Lecture"}))
	a.await("session_started", nil)
	admin.Must(200, "POST", fmt.Sprintf("/api/v1/sessions/%d/end", sess), nil)
	a.await("session_ended", nil)

	// Bob stops following: new messages reach him as activity.
	b.send(map[string]any{"type": "unsubscribe", "conversation_id": conv})
	b.await("unsubscribed", nil)
	a.send(map[string]any{"type": "send", "conversation_id": conv, "client_id": "f-3", "body": "anyone?"})
	a.await("ack", nil)
	b.await("activity", nil)

	// A refused send answers error with its client_id; the socket stays open.
	b.send(map[string]any{"type": "send", "conversation_id": 424242, "client_id": "f-4", "body": "lost"})
	if f := b.await("error", nil); f["client_id"] != "f-4" {
		t.Fatalf("error frame without the client_id: %v", f)
	}

	alice.Must(204, "DELETE", m, nil)
	a.await("message_deleted", nil)
	admin.Must(204, "DELETE", c, nil)
	a.await("conversation_deleted", nil)

	var missing []string
	for action, types := range fs.byType {
		for typ := range types {
			key := typ
			if action == "receive" {
				key = "client:" + typ
			}
			if !seen[key] {
				missing = append(missing, action+" "+typ)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("frame types in asyncapi.yaml that the session never saw (describe only what the server does): %v", missing)
	}
	t.Logf("%d server frame types and %d client frame types validated", len(fs.byType["send"]), len(fs.byType["receive"]))
}

// The validator fails on drift: an unknown type, a missing or extra field.
func TestAsyncAPIValidatorCatchesDrift(t *testing.T) {
	fs, err := loadFrameSchemas()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		action, frame string
		ok            bool
	}{
		{"send", `{"type":"presence","user_id":3,"online":true}`, true},
		{"send", `{"type":"presence","user_id":3}`, false},
		{"send", `{"type":"presence","user_id":3,"online":true,"ip":"10.0.0.1"}`, false},
		{"send", `{"type":"presence","user_id":0,"online":true}`, false},
		{"send", `{"type":"teleport"}`, false},
		{"send", `{"type":"subscribe","conversation_id":1}`, false},
		{"receive", `{"type":"subscribe","conversation_id":1}`, true},
		{"receive", `{"type":"send","conversation_id":1,"body":"x"}`, false},
		{"send", `{"type":"member_muted","conversation_id":1,"user_id":2,"until":"yesterday"}`, false},
		{"send", `{"type":"member_muted","conversation_id":1,"user_id":2,"until":null}`, true},
		{"send", `{"type":"ready","user":{"id":1,"username":"max","display_name":"Max","role":"user","created_at":"2026-11-29T09:30:00.123Z","disabled":false}}`, true},
		{"send", `{"type":"ready","user":{"id":1,"username":"max","display_name":"Max","role":"user","created_at":"2026-11-29T09:30:00.123Z"}}`, false},
		{"send", `{"type":"ready","user":{"id":1,"username":"max","display_name":"Max","role":"owner","created_at":"2026-11-29T09:30:00.123Z","disabled":false}}`, false},
	} {
		_, err := fs.check(c.action, []byte(c.frame))
		if (err == nil) != c.ok {
			t.Errorf("%s %s: err %v, want ok=%v", c.action, c.frame, err, c.ok)
		}
	}
}

// dialV2 opens a socket that negotiates realtime.Protocol.
func dialV2(t *testing.T, base, token string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{realtime.Protocol}}
	c, _, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/v1/ws", http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if c.Subprotocol() != realtime.Protocol {
		t.Fatalf("protocol %q not negotiated", c.Subprotocol())
	}
	return c
}
