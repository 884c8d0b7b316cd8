package realtime_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"teamchat/server/realtime"
)

// FuzzDecodeInbound feeds arbitrary bytes to the WebSocket frame decoder
// (THREATS A30, F13). Properties: it never panics; an accepted frame has a
// known type and, except for auth, a positive conversation_id; re-encoding an
// accepted frame and decoding it again gives the same value.
// Seeds: f.Add below and testdata/fuzz/FuzzDecodeInbound.
func FuzzDecodeInbound(f *testing.F) {
	for _, s := range []string{
		`{"type":"auth","token":"abc"}`,
		`{"type":"subscribe","conversation_id":1}`,
		`{"type":"subscribe","conversation_id":1,"after_seq":0}`,
		`{"type":"subscribe","conversation_id":1,"after_seq":null}`,
		`{"type":"unsubscribe","conversation_id":9007199254740993}`,
		`{"type":"send","conversation_id":2,"client_id":"c1","body":"hello \u202e world"}`,
		`{"type":"typing","conversation_id":3}`,
		`{"type":"read","conversation_id":3,"seq":42}`,
		`{"type":"send","conversation_id":0}`,
		`{"type":"send","conversation_id":-1}`,
		`{"type":"send","conversation_id":"1"}`,
		`{"type":"send","conversation_id":1e400}`,
		`{"type":"send","conversation_id":1.5}`,
		`{"type":"nope","conversation_id":1}`,
		`{"type":"","conversation_id":1}`,
		`{"conversation_id":1}`,
		`{"type":"send","conversation_id":1,"extra":true}`,
		`{"type":"send","conversation_id":1}xyz`,
		`{"type":"send","conversation_id":1}{"type":"send","conversation_id":1}`,
		`{"type":"send","conversation_id":1,"conversation_id":2}`,
		`{"Type":"send","CONVERSATION_ID":1}`,
		`{"type":"send","conversation_id":1,"body":"a\u0000b"}`,
		`{"type":"send","conversation_id":1,"body":"\ud800"}`,
		"{\"type\":\"send\",\"conversation_id\":1,\"body\":\"\xc3\x28\"}",
		`{"type":"send"`,
		`[]`, `null`, `""`, `1`, ``, ` `,
		`{"type":"send","conversation_id":1,"body":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := realtime.DecodeInbound(data)
		if err != nil {
			return
		}
		switch in.Type {
		case "auth", "subscribe", "unsubscribe", "send", "typing", "read":
		default:
			t.Fatalf("accepted unknown type %q from %q", in.Type, data)
		}
		if in.Type != "auth" && in.ConversationID <= 0 {
			t.Fatalf("accepted %s frame with conversation_id %d from %q", in.Type, in.ConversationID, data)
		}
		again, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("re-encoding %#v: %v", in, err)
		}
		back, err := realtime.DecodeInbound(again)
		if err != nil {
			t.Fatalf("re-encoded frame %s refused: %v (input %q)", again, err, data)
		}
		if !reflect.DeepEqual(in, back) {
			t.Fatalf("round trip changed the frame:\n first %#v\n again %#v\n input %q", in, back, data)
		}
	})
}
