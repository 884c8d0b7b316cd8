package auth

import (
	"context"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// turn is one source's place at the hasher: a request holds it from before it
// waits for a hashing slot until its hash is done.
type turn struct {
	ch   chan struct{} // capacity 1
	refs int
}

// Turn waits until no other request of any of the given sources (a client
// address, an account) is at the hasher, and keeps them until release is
// called. Every caller takes its sources in the same (sorted) order, so two
// requests sharing sources cannot deadlock. Held around Check or Hash, it
// lets each source have at most one hash running or queued for a slot: a
// flood from one address or for one account waits behind itself, and
// everyone else queues behind at most one of its hashes.
func (h *Hasher) Turn(ctx context.Context, sources ...string) (release func(), err error) {
	keys := slices.Compact(slices.Sorted(slices.Values(sources)))
	if len(keys) > 0 && keys[0] == "" {
		keys = keys[1:]
	}
	held := make([]string, 0, len(keys))
	release = func() {
		for i := len(held) - 1; i >= 0; i-- {
			h.leave(held[i])
		}
	}
	for _, k := range keys {
		t := h.enter(k)
		select {
		case t.ch <- struct{}{}:
			held = append(held, k)
		case <-ctx.Done():
			h.unref(k)
			release()
			return nil, ctx.Err()
		}
	}
	return release, nil
}

func (h *Hasher) enter(k string) *turn {
	h.turnMu.Lock()
	defer h.turnMu.Unlock()
	t := h.turns[k]
	if t == nil {
		t = &turn{ch: make(chan struct{}, 1)}
		h.turns[k] = t
	}
	t.refs++
	return t
}

func (h *Hasher) unref(k string) {
	h.turnMu.Lock()
	defer h.turnMu.Unlock()
	if t := h.turns[k]; t != nil {
		if t.refs--; t.refs == 0 {
			delete(h.turns, k)
		}
	}
}

func (h *Hasher) leave(k string) {
	h.turnMu.Lock()
	t := h.turns[k]
	h.turnMu.Unlock()
	<-t.ch
	h.unref(k)
}

// Budget is a token bucket per key (a client address, an account): how much
// sign-in work a key may cause, successes included. A nil Budget allows all.
type Budget struct {
	mu    sync.Mutex
	limit rate.Limit
	burst int
	m     map[string]*rate.Limiter
	now   func() time.Time
}

// NewBudget allows burst at once and perMinute after that; perMinute <= 0
// gives nil (no limit).
func NewBudget(perMinute float64, burst int) *Budget {
	if perMinute <= 0 {
		return nil
	}
	return &Budget{limit: rate.Limit(perMinute / 60), burst: max(burst, 1), m: map[string]*rate.Limiter{}, now: time.Now}
}

func (b *Budget) limiter(key string, now time.Time) *rate.Limiter {
	l := b.m[key]
	if l == nil {
		if len(b.m) >= 100000 { // bound memory under a flood of distinct keys: full buckets carry no state
			for k, v := range b.m {
				if v.TokensAt(now) >= float64(b.burst) {
					delete(b.m, k)
				}
			}
		}
		l = rate.NewLimiter(b.limit, b.burst)
		b.m[key] = l
	}
	return l
}

// Take spends one token of key; when there is none it answers false and how
// long until there is.
func (b *Budget) Take(key string) (bool, time.Duration) {
	if b == nil {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	l := b.limiter(key, now)
	if l.AllowN(now, 1) {
		return true, 0
	}
	return false, b.wait(l, now)
}

// Ready reports whether key has a token, without spending it.
func (b *Budget) Ready(key string) (bool, time.Duration) {
	if b == nil {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	l := b.limiter(key, now)
	if l.TokensAt(now) >= 1 {
		return true, 0
	}
	return false, b.wait(l, now)
}

func (b *Budget) wait(l *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - l.TokensAt(now)
	return time.Duration(missing / float64(b.limit) * float64(time.Second))
}

// Known remembers keys for a while, e.g. the (account, address) pairs that
// signed in successfully.
type Known struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]time.Time
	now func() time.Time
}

// NewKnown remembers each key for ttl after it was last added.
func NewKnown(ttl time.Duration) *Known {
	return &Known{ttl: ttl, m: map[string]time.Time{}, now: time.Now}
}

// Add remembers key from now.
func (k *Known) Add(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	if len(k.m) >= 100000 {
		for x, t := range k.m {
			if now.Sub(t) >= k.ttl {
				delete(k.m, x)
			}
		}
	}
	k.m[key] = now
}

// Has reports whether key was added less than ttl ago.
func (k *Known) Has(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	t, ok := k.m[key]
	return ok && k.now().Sub(t) < k.ttl
}
