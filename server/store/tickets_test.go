package store

import (
	"errors"
	"testing"

	"teamchat/server/model"
)

func TestLoginTicketsWorkOnceAndExpire(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	if err := s.PutLoginTicket(ctx, "old", 7, now()-1); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLoginTicket(ctx, "fresh", 7, now()+60_000); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakeLoginTicket(ctx, "old"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("expired ticket: %v", err) // dropped when "fresh" was put, or refused as expired
	}
	if uid, err := s.TakeLoginTicket(ctx, "fresh"); err != nil || uid != 7 {
		t.Fatalf("fresh ticket: %d %v", uid, err)
	}
	if _, err := s.TakeLoginTicket(ctx, "fresh"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("second take: %v", err)
	}
	kv, err := s.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k := range kv {
		if len(k) > len(ticketKeyPrefix) && k[:len(ticketKeyPrefix)] == ticketKeyPrefix {
			t.Fatalf("ticket left in settings: %s", k)
		}
	}
}
