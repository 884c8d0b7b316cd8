package store

import (
	"context"
	"strings"
	"testing"
)

// hand_events is append-only while its conversation exists; deleting the
// conversation takes its events with it.
func TestHandEventsAppendOnly(t *testing.T) {
	s := openModStore(t)
	ctx := context.Background()
	ann := modUser(t, s, "ann", "user")
	prof := modUser(t, s, "prof", "admin")
	conv, err := s.CreateConversation(ctx, NewConversation{Name: "G", Kind: "group", CreatorID: prof, MemberIDs: []int64{ann}})
	if err != nil {
		t.Fatal(err)
	}
	if _, raised, _, err := s.RaiseHand(ctx, conv.ID, ann); err != nil || !raised {
		t.Fatalf("raise: %v %v", raised, err)
	}
	if _, ok, q, err := s.NextHand(ctx, conv.ID, prof); err != nil || !ok || len(q) != 0 {
		t.Fatalf("next: %v %v %v", ok, q, err)
	}
	for _, q := range []string{
		`UPDATE hand_events SET raised = 1`,
		`DELETE FROM hand_events WHERE id = 1`,
		`DELETE FROM hand_events`,
	} {
		if _, err := s.w.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", q, err)
		}
	}
	if ev, err := s.HandEvents(ctx, conv.ID, nil, nil); err != nil || len(ev) != 2 || ev[1].Reason != HandNext || ev[1].By == nil || ev[1].By.ID != prof {
		t.Fatalf("events %+v %v", ev, err)
	}
	if err := eraseConversation(ctx, s, conv.ID); err != nil {
		t.Fatalf("purge a conversation with hand events: %v", err)
	}
	if ev, err := s.HandEvents(ctx, conv.ID, nil, nil); err != nil || len(ev) != 0 {
		t.Fatalf("events after delete %+v %v", ev, err)
	}
}
