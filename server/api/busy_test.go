package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"teamchat/server/servertest"
)

// TestBusyWriterAnswers503 holds the one writer connection, so every write
// waits for it past the (shortened) write timeout: REST answers 503
// unavailable with Retry-After, a WebSocket send an unavailable error frame
// with retry_after and its client_id; nothing refused is stored, nothing
// acked is lost, and the same sends succeed once the writer is free.
func TestBusyWriterAnswers503(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	ann := env.AddUser("ann", "user")
	ws := ann.DialWS()
	acked := map[string]int64{}
	for i := range 3 {
		cid := fmt.Sprintf("before-%d", i)
		f := sendAndWait(t, ws, 1, cid, "before the writer was held")
		if f.Type() != "ack" {
			t.Fatalf("send before the hold: %v", f)
		}
		acked[cid] = f.Seq()
	}

	st := env.Srv.Store()
	st.SetWriteTimeout(50 * time.Millisecond)
	release, err := st.HoldWriter(context.Background())
	if err != nil {
		t.Fatalf("HoldWriter: %v", err)
	}
	released := false
	defer func() {
		if !released {
			release()
		}
	}()

	refused := map[string]bool{}
	f := sendAndWait(t, ws, 1, "ws-busy", "while the writer is held")
	if f.Type() != "error" || f["code"] != "unavailable" || f.Int("retry_after") < 1 {
		t.Fatalf("WebSocket send while the writer is held: %v, want an unavailable error with retry_after", f)
	}
	refused["ws-busy"] = true
	r := ann.Do("POST", "/api/v1/conversations/1/messages", map[string]any{"client_id": "rest-busy", "body": "while the writer is held"})
	if r.Status != http.StatusServiceUnavailable || r.ErrCode() != "unavailable" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("REST send while the writer is held: %d %s (Retry-After %q), want 503 unavailable with Retry-After", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	refused["rest-busy"] = true
	// Writes outside the message path (here a new conversation) wait for
	// the same writer and are refused the same way, not with a 500.
	r = ann.Do("POST", "/api/v1/conversations", map[string]any{"name": "while busy"})
	if r.Status != http.StatusServiceUnavailable || r.ErrCode() != "unavailable" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("creating a conversation while the writer is held: %d %s (Retry-After %q), want 503 unavailable with Retry-After", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	// Reads do not need the writer.
	before := allMessages(t, ann, 1)
	checkHistory(t, before, acked, refused)

	release()
	released = true
	st.SetWriteTimeout(30 * time.Second)
	// Retried with the same client_ids, each is stored once.
	f = sendAndWait(t, ws, 1, "ws-busy", "while the writer is held")
	if f.Type() != "ack" {
		t.Fatalf("resend after the writer is free: %v", f)
	}
	acked["ws-busy"] = f.Seq()
	var m struct {
		Seq int64 `json:"seq"`
	}
	ann.Must(http.StatusCreated, "POST", "/api/v1/conversations/1/messages", map[string]any{"client_id": "rest-busy", "body": "while the writer is held"}).Decode(t, &m)
	acked["rest-busy"] = m.Seq
	ann.Must(http.StatusCreated, "POST", "/api/v1/conversations", map[string]any{"name": "while busy"})
	if got := checkHistory(t, allMessages(t, ann, 1), acked, nil); len(got) != len(acked) {
		t.Fatalf("%d messages stored, want the %d acked", len(got), len(acked))
	}
}
