package api_test

import (
	"fmt"
	"testing"

	"teamchat/server/chat"
	"teamchat/server/servertest"
)

// A subscribe with after_seq 0 replays the whole backlog for a few bytes in.
// Repeated over several sockets it must be cut off by the user's replay
// budget (shared by the user's sockets), with an error frame naming the
// conversation, while another user's resume and the flooder's own up-to-date
// resume still work.
func TestSubscribeFloodIsCutOffByTheReplayBudget(t *testing.T) {
	const stored = 500
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	w := env.AddUser("wri", "user").DialWS()
	for chunk := 0; chunk < stored; chunk += 100 {
		for i := chunk; i < chunk+100; i++ {
			w.Send(send(1, fmt.Sprintf("c%d", i), "backlog"))
		}
		for acks := 0; acks < 100; {
			if w.Next().Type() == "ack" {
				acks++
			}
		}
	}

	// Four sockets of one user, ten full replays asked on each.
	flooder := env.AddUser("flood", "user")
	const sockets, each = 4, 10
	var socks []*servertest.WS
	for range sockets {
		ws := flooder.DialWS()
		socks = append(socks, ws)
		for range each {
			ws.Send(map[string]any{"type": "subscribe", "conversation_id": 1, "after_seq": 0})
		}
	}
	replayed, accepted, refused := 0, 0, 0
	for _, ws := range socks {
		for answers := 0; answers < each; {
			f := ws.Next()
			switch f.Type() {
			case "message":
				replayed++
			case "subscribed":
				accepted++
				answers++
			case "error":
				if f["code"] != "rate_limited" || f.Int("conversation_id") != 1 || f["message"] == "" {
					t.Fatalf("refusal: %v", f)
				}
				refused++
				answers++
			}
		}
	}
	t.Logf("%d subscribes: %d replays accepted (%d messages), %d refused", sockets*each, accepted, replayed, refused)
	// 40 full replays would be 20,000 messages; the budget holds 5,000 and
	// refills 50 a second, so most are refused whatever the socket.
	if refused < sockets*each/2 || replayed != accepted*stored {
		t.Fatalf("%d replays accepted (%d messages), %d refused; want most refused", accepted, replayed, refused)
	}
	if accepted < chat.ReplayBurst/stored {
		t.Fatalf("%d replays accepted, want at least the burst's %d", accepted, chat.ReplayBurst/stored)
	}

	// The flooder's own resume from where it is costs nothing and works.
	socks[0].Send(map[string]any{"type": "subscribe", "conversation_id": 1, "after_seq": stored})
	if f := socks[0].Expect("subscribed"); f.Int("last_seq") != stored {
		t.Fatalf("up-to-date resume: %v", f)
	}
	// Another student's reconnect resumes with its backlog.
	r := env.AddUser("rea", "user").DialWS()
	r.Send(map[string]any{"type": "subscribe", "conversation_id": 1, "after_seq": stored - 10})
	for i := int64(stored - 9); i <= stored; i++ {
		if f := r.Expect("message"); f.Seq() != i {
			t.Fatalf("resume seq %d, want %d", f.Seq(), i)
		}
	}
	if f := r.Expect("subscribed"); f.Int("last_seq") != stored || f["has_more"] != false {
		t.Fatalf("resume: %v", f)
	}
}
