package files

import (
	"context"
	"testing"
	"time"
)

// granted reports whether acquire's result arrived, without waiting long
// for one that must not come.
func granted(ch <-chan error) bool {
	select {
	case err := <-ch:
		return err == nil
	default:
		return false
	}
}

func waitGranted(t *testing.T, what string, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not granted", what)
	}
}

func TestDecodeBudgetIsFairAndBounded(t *testing.T) {
	b := newDecodeBudget(100)
	ctx := context.Background()
	async := func(owner, n int64) <-chan error {
		ch := make(chan error, 1)
		go func() { ch <- b.acquire(ctx, owner, n) }()
		return ch
	}
	waiting := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			b.mu.Lock()
			got := len(b.waiting)
			b.mu.Unlock()
			if got == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d waiting, want %d", got, n)
			}
			time.Sleep(time.Millisecond) // polling a condition, not timing
		}
	}
	if err := b.acquire(ctx, 1, 90); err != nil { // a large image of owner 1
		t.Fatal(err)
	}
	own := async(1, 5) // owner 1's next upload waits for owner 1's first
	waiting(1)
	big := async(2, 20) // does not fit beside the 90
	waiting(2)
	// A small image of a third owner fits: it goes ahead of both.
	if err := b.acquire(ctx, 3, 10); err != nil {
		t.Fatal(err)
	}
	if granted(own) || granted(big) {
		t.Fatal("a waiter was granted while it must wait")
	}
	if b.used != 100 || len(b.running) != 2 {
		t.Fatalf("used %d by %d owners", b.used, len(b.running))
	}
	// Owner 1 finishes: its own next one and owner 2's now fit.
	b.release(1, 90)
	waitGranted(t, "owner 1's second", own)
	waitGranted(t, "owner 2's", big)
	if b.used != 35 || len(b.waiting) != 0 {
		t.Fatalf("used %d, %d waiting", b.used, len(b.waiting))
	}
	// A waiter that gives up leaves no trace.
	cctx, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- b.acquire(cctx, 2, 80) }() // owner 2 is running: waits
	waiting(1)
	cancel()
	if err := <-gaveUp; err == nil {
		t.Fatal("a cancelled wait was granted")
	}
	b.release(1, 5)
	b.release(2, 20)
	b.release(3, 10)
	if b.used != 0 || len(b.running) != 0 || len(b.waiting) != 0 {
		t.Fatalf("after all releases: used %d, running %v, %d waiting", b.used, b.running, len(b.waiting))
	}
}
