package auth

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// A flood of sign-ins from one source holds at most one of the two hashing
// slots: another source's check runs while the flood's hash is still held.
func TestTurnKeepsOneSourceToOneSlot(t *testing.T) {
	h := NewHasher(bcrypt.MinCost, 2)
	entered := make(chan string, 100)
	hold := make(chan struct{})
	h.compare = func(_, pw []byte) error {
		entered <- string(pw)
		if string(pw) == "flood" {
			<-hold
		}
		return bcrypt.ErrMismatchedHashAndPassword
	}
	check := func(pw string, sources ...string) {
		release, err := h.Turn(context.Background(), sources...)
		if err != nil {
			t.Error(err)
			return
		}
		defer release()
		if _, err := h.Check(context.Background(), "", pw); err != nil {
			t.Error(err)
		}
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() { defer wg.Done(); check("flood", "a:10.0.0.9", "u:stu") }()
	}
	if got := waitFor(t, entered); got != "flood" {
		t.Fatalf("first hash: %q", got)
	}
	// The flood's first hash is held; the professor's must still get a slot.
	wg.Add(1)
	go func() { defer wg.Done(); check("prof", "a:10.0.0.1", "u:prof") }()
	if got := waitFor(t, entered); got != "prof" {
		t.Fatalf("a second flood hash took the other slot before the professor's: %q", got)
	}
	close(hold)
	wg.Wait()
	if n := len(entered); n != 19 {
		t.Fatalf("%d more flood hashes, want 19", n)
	}
	h.turnMu.Lock()
	defer h.turnMu.Unlock()
	if len(h.turns) != 0 {
		t.Fatalf("turns left behind: %v", h.turns)
	}
}

// The same account from many addresses is one source too; a cancelled wait
// gives its place back.
func TestTurnPerAccountAndCancel(t *testing.T) {
	h := NewHasher(bcrypt.MinCost, 2)
	first, err := h.Turn(context.Background(), "a:10.0.0.2", "u:stu")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.Turn(ctx, "a:10.0.0.3", "u:stu")
		done <- err
	}()
	// Another account from the second address is not held up meanwhile.
	other, err := h.Turn(context.Background(), "a:10.0.0.4", "u:prof")
	if err != nil {
		t.Fatal(err)
	}
	other()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a second turn for the same account was granted while the first was held")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled turn did not return")
	}
	first()
	again, err := h.Turn(context.Background(), "a:10.0.0.3", "u:stu")
	if err != nil {
		t.Fatal(err)
	}
	again()
	h.turnMu.Lock()
	defer h.turnMu.Unlock()
	if len(h.turns) != 0 {
		t.Fatalf("turns left behind: %v", h.turns)
	}
}

func TestBudget(t *testing.T) {
	clock := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	b := NewBudget(6, 3) // one token every 10 s
	b.now = func() time.Time { return clock }
	for i := range 3 {
		if ok, _ := b.Take("a"); !ok {
			t.Fatalf("take %d refused within the burst", i)
		}
	}
	if ok, wait := b.Ready("a"); ok || wait <= 0 || wait > 10*time.Second {
		t.Fatalf("empty bucket: ready %v, wait %v", ok, wait)
	}
	if ok, _ := b.Take("b"); !ok {
		t.Fatal("another key shares the bucket")
	}
	clock = clock.Add(10 * time.Second)
	if ok, _ := b.Take("a"); !ok {
		t.Fatal("no token after the refill time")
	}
	if ok, _ := NewBudget(0, 0).Take("a"); !ok {
		t.Fatal("a zero budget limits")
	}
}

func waitFor(t *testing.T, ch chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no hash started within 10 s")
		return ""
	}
}
