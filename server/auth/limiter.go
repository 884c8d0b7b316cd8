package auth

import (
	"sync"
	"time"
)

// FailureLimiter counts failed logins per key (a username or a client address)
// in a sliding window; once a key has max failures in the window, attempts are
// refused until the oldest failure leaves it. It uses the monotonic clock.
type FailureLimiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	fails  map[string][]time.Time
	now    func() time.Time
}

// NewFailureLimiter allows max failures per key in window.
func NewFailureLimiter(max int, window time.Duration) *FailureLimiter {
	return &FailureLimiter{max: max, window: window, fails: map[string][]time.Time{}, now: time.Now}
}

func (l *FailureLimiter) prune(key string, now time.Time) []time.Time {
	f := l.fails[key]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= l.window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(l.fails, key)
		return nil
	}
	l.fails[key] = f
	return f
}

// Blocked reports whether any key is over its limit, and for how long.
func (l *FailureLimiter) Blocked(keys ...string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	for _, k := range keys {
		f := l.prune(k, now)
		if len(f) >= l.max {
			if w := l.window - now.Sub(f[len(f)-l.max]); w > wait {
				wait = w
			}
		}
	}
	return wait > 0, wait
}

// Fail records a failure for every key.
func (l *FailureLimiter) Fail(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		l.prune(k, now)
		l.fails[k] = append(l.fails[k], now)
	}
	if len(l.fails) > 100000 { // bound memory under a flood of distinct keys
		for k := range l.fails {
			l.prune(k, now)
		}
	}
}

// Reset forgets the failures of a key (after a successful login).
func (l *FailureLimiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}
