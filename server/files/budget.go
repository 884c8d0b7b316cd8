package files

import (
	"context"
	"sync"
)

// Memory that decoding images for thumbnails may take, estimated from each
// image's header before it is decoded (decodeCost).
const (
	// DecodeBudget bounds all decodes in flight together.
	DecodeBudget = 128 << 20
	// MaxDecodeBytes bounds one image: larger ones are kept as plain files.
	// It is well under DecodeBudget, and an uploader decodes one image at a
	// time, so one uploader never holds more than this and the remaining
	// 32 MiB or more always serve everyone else (an image of up to 8
	// megapixels RGBA, or a 12-megapixel phone JPEG).
	MaxDecodeBytes = 96 << 20
)

// decodeBudget hands out decoding memory fairly: each owner (uploader) has at
// most one decode running, and a waiting decode starts as soon as its owner
// has none running and its bytes fit, whoever arrived before it; so a small
// image never waits behind someone else's large one, and one owner's queue
// of uploads holds only that owner's.
type decodeBudget struct {
	mu      sync.Mutex
	total   int64
	used    int64
	running map[int64]bool
	waiting []*decodeWaiter // in arrival order
}

type decodeWaiter struct {
	owner int64
	n     int64
	ready chan struct{} // closed once granted
}

func newDecodeBudget(total int64) *decodeBudget {
	return &decodeBudget{total: total, running: map[int64]bool{}}
}

// acquire waits until owner may decode with n bytes (n ≤ total), or ctx ends.
func (b *decodeBudget) acquire(ctx context.Context, owner, n int64) error {
	b.mu.Lock()
	if !b.running[owner] && b.used+n <= b.total {
		b.grant(owner, n)
		b.mu.Unlock()
		return nil
	}
	w := &decodeWaiter{owner: owner, n: n, ready: make(chan struct{})}
	b.waiting = append(b.waiting, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		defer b.mu.Unlock()
		select {
		case <-w.ready: // granted meanwhile: give it back
			b.releaseLocked(owner, n)
		default:
			for i, x := range b.waiting {
				if x == w {
					b.waiting = append(b.waiting[:i], b.waiting[i+1:]...)
					break
				}
			}
		}
		return ctx.Err()
	}
}

func (b *decodeBudget) grant(owner, n int64) {
	b.used += n
	b.running[owner] = true
}

// release returns what acquire granted and starts the waiters that now fit.
func (b *decodeBudget) release(owner, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.releaseLocked(owner, n)
}

func (b *decodeBudget) releaseLocked(owner, n int64) {
	b.used -= n
	delete(b.running, owner)
	kept := b.waiting[:0]
	for _, w := range b.waiting {
		if !b.running[w.owner] && b.used+w.n <= b.total {
			b.grant(w.owner, w.n)
			close(w.ready)
			continue
		}
		kept = append(kept, w)
	}
	clear(b.waiting[len(kept):])
	b.waiting = kept
}

// DecodeStats is a snapshot of the decoding budget, for tests and metrics.
type DecodeStats struct {
	InUse   int64 // bytes granted to decodes running now
	Running int   // decodes running
	Waiting int   // decodes waiting for their turn
}

// DecodeStats reports the decoding budget's state.
func (s *Store) DecodeStats() DecodeStats {
	b := s.budget
	b.mu.Lock()
	defer b.mu.Unlock()
	return DecodeStats{InUse: b.used, Running: len(b.running), Waiting: len(b.waiting)}
}
