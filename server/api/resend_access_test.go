package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"teamchat/server/servertest"
)

// A resend with an old client_id returns the stored message, which carries
// what happened to it since (reactions, reply count, the quoted message). A
// member who was removed must not read that way, over REST or WebSocket.
func TestResendAfterRemovalDoesNotReadTheConversation(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	owner := env.AddUser("own", "user")
	gone := env.AddUser("gone", "user")
	goneID := gone.ID()
	g := idOf(owner.Must(201, "POST", "/api/v1/conversations", map[string]any{
		"name": "Project", "kind": "group", "member_ids": []int64{goneID}}))

	// Two old messages of the member: one for REST, one for WebSocket.
	m1 := idOf(gone.Must(201, "POST", msgsPath(g), map[string]any{"client_id": "old-rest", "body": "my plan"}))
	m2 := idOf(gone.Must(201, "POST", msgsPath(g), map[string]any{"client_id": "old-ws", "body": "my draft"}))
	// While a member, a resend answers the stored message (200, not 201).
	if r := gone.Must(200, "POST", msgsPath(g), map[string]any{"client_id": "old-rest", "body": "my plan"}); idOf(r) != m1 {
		t.Fatalf("resend while a member: %s", r.Body)
	}

	owner.Must(204, "DELETE", fmt.Sprintf("/api/v1/conversations/%d/members/%d", g, goneID), nil)
	// What happens after the removal is what a resend would leak.
	for _, m := range []int64{m1, m2} {
		owner.Must(200, "PUT", fmt.Sprintf("/api/v1/messages/%d/reactions/%s", m, url.PathEscape("👍")), nil)
		owner.Must(201, "POST", msgsPath(g), map[string]any{"body": "secret reply after the removal", "reply_to": m})
	}

	r := gone.Do("POST", msgsPath(g), map[string]any{"client_id": "old-rest", "body": "my plan"})
	if r.Status != 404 || r.ErrCode() != "not_found" || strings.Contains(string(r.Body), "👍") {
		t.Fatalf("REST resend after removal: %d %s", r.Status, r.Body)
	}
	ws := gone.DialWS()
	f := sendResult(t, ws, g, "old-ws", "my draft")
	if f.Type() != "error" || f["code"] != "not_found" || f.Message() != nil {
		t.Fatalf("WebSocket resend after removal: %v", f)
	}
	// Nothing new was stored under the old client_ids.
	page := owner.Must(200, "GET", msgsPath(g), nil).JSON()["messages"].([]any)
	if len(page) != 4 {
		t.Fatalf("messages: %d, want 4", len(page))
	}

	// A member's resend still answers the stored message, now with its reactions.
	f = sendResult(t, owner.DialWS(), g, "own-1", "hello")
	if f.Type() != "ack" {
		t.Fatalf("owner's send: %v", f)
	}
	seq := f.Seq()
	ows := owner.DialWS()
	if f := sendResult(t, ows, g, "own-1", "hello"); f.Type() != "ack" || f.Seq() != seq {
		t.Fatalf("owner's resend: %v", f)
	}
}
