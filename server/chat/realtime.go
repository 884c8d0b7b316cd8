package chat

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"teamchat/server/model"
)

// ActiveUser is the account as it is now (role, state), for a connection that
// authenticated earlier; ErrUnauthorized once it is disabled or expired.
func (s *Service) ActiveUser(ctx context.Context, id int64) (model.User, error) {
	return s.activeUser(ctx, id, anyEpoch)
}

// Backlog replay budget: a subscribe with after_seq replays up to 1,000
// stored messages for a few bytes in, so each user may have at most
// ReplayBurst messages replayed at once and ReplayRate more per second, over
// all of the user's sockets together (opening more sockets buys nothing). A
// reconnect resumes with small gaps; a whole lecture's backlog fits the burst.
const (
	ReplayBurst = 5000
	ReplayRate  = 50
)

type replayBudget struct {
	mu sync.Mutex
	m  map[int64]*rate.Limiter
}

// AllowReplay takes n replayed messages from the user's budget, or answers
// rate_limited (and takes nothing) when the budget does not hold them now.
func (s *Service) AllowReplay(userID int64, n int) error {
	if n <= 0 {
		return nil
	}
	b := &s.replays
	b.mu.Lock()
	if b.m == nil {
		b.m = map[int64]*rate.Limiter{}
	}
	l := b.m[userID]
	if l == nil {
		l = rate.NewLimiter(ReplayRate, ReplayBurst)
		b.m[userID] = l
	}
	b.mu.Unlock()
	r := l.ReserveN(time.Now(), min(n, ReplayBurst))
	if d := r.Delay(); d > 0 {
		r.Cancel()
		wait := math.Ceil(d.Seconds())
		return model.RateLimited(fmt.Sprintf("too many backlog messages replayed: subscribe again in %.0f s, or resume from a later after_seq", wait), d)
	}
	return nil
}
