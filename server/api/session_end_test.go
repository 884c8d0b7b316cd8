package api_test

import (
	"testing"
	"time"

	"teamchat/server/servertest"
)

// When a class session reaches its planned end, its guests get session_ended
// before their sockets close with 4401, and the audit entry counts them, even
// though each guest's own lifetime ends at the same instant (the guest sweep
// and the session's end are due together).
func TestScheduledSessionEndTellsItsGuestsFirst(t *testing.T) {
	env := servertest.Start(t)
	admin := env.AddUser("prof", "admin")
	code := joinCode(t, admin)
	ends := time.Now().Add(1500 * time.Millisecond)
	sid := idOf(admin.Must(201, "POST", "/api/v1/sessions", map[string]any{"name": "Quiz", "ends_at": ends.UTC().Format(time.RFC3339Nano)}))
	g1, _ := joinAsGuest(t, env, code, "Quiz Guest One")
	g2, _ := joinAsGuest(t, env, code, "Quiz Guest Two")
	ws1, ws2 := g1.DialWS(), g2.DialWS()

	servertest.Eventually(t, "the planned end to pass", func() bool { return time.Now().After(ends) })
	// The sweep, as the expiry loop runs it (which one of its steps gets there
	// first must not matter).
	env.Srv.Chat().ExpireGuests(t.Context())

	for _, ws := range []*servertest.WS{ws1, ws2} {
		var got *servertest.Frame
		frames, closeCode := framesUntilClose(t, ws)
		for _, f := range frames {
			if f.Type() == "session_ended" {
				got = &f
			}
		}
		if closeCode != 4401 {
			t.Fatalf("guest socket closed with %d, want 4401", closeCode)
		}
		if got == nil {
			t.Fatalf("guest socket closed without session_ended")
		}
		if s := (*got)["session"].(map[string]any); int64(s["id"].(float64)) != sid || s["ended_at"] == nil {
			t.Fatalf("session_ended: %v", *got)
		}
	}
	e := auditActions(t, admin, "session.end")
	if len(e) != 1 || e[0]["details"].(map[string]any)["guests_disabled"] != float64(2) || e[0]["details"].(map[string]any)["automatic"] != true {
		t.Fatalf("session.end audit: %v", e)
	}
	g1.Must(401, "GET", "/api/v1/me", nil)
}

// A session ended by hand tells its connected guests too, before the 4401.
func TestEndedSessionGuestGetsSessionEndedBeforeClose(t *testing.T) {
	env := servertest.Start(t)
	admin := env.AddUser("prof", "admin")
	code := joinCode(t, admin)
	for round := range 5 {
		sid := idOf(admin.Must(201, "POST", "/api/v1/sessions", map[string]any{"name": "Lab"}))
		g, _ := joinAsGuest(t, env, code, "Lab Guest "+string(rune('A'+round)))
		ws := g.DialWS()
		admin.Must(200, "POST", "/api/v1/sessions/"+itoa(sid)+"/end", nil)
		n := 0
		frames, closeCode := framesUntilClose(t, ws)
		for _, f := range frames {
			if f.Type() == "session_ended" {
				n++
			}
		}
		if closeCode != 4401 || n != 1 {
			t.Fatalf("round %d: %d session_ended frames, close %d; want one, then 4401", round, n, closeCode)
		}
	}
}

// framesUntilClose collects a socket's frames until it is closed (20 s at most).
func framesUntilClose(t *testing.T, ws *servertest.WS) ([]servertest.Frame, int) {
	t.Helper()
	var out []servertest.Frame
	deadline := time.After(20 * time.Second)
	for {
		select {
		case f, ok := <-ws.Frames:
			if !ok {
				ce := <-ws.Closed
				if ce == nil {
					return out, 1006
				}
				return out, ce.Code
			}
			out = append(out, f)
		case <-deadline:
			t.Fatalf("socket not closed within 20 s")
		}
	}
}
