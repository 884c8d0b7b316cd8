package realtime

import (
	"slices"
	"strconv"
	"sync"
	"time"
)

// Presence is coalesced: a user coming or going is not broadcast at once but
// recorded as pending, and every PresenceEvery the net changes since the last
// announcement go to every connection as one queue item. A connection's
// snapshot is the announced set, encoded once per announcement however many
// connections join meanwhile; the next announcement brings what changed since.
// So a lecture hall joining costs each connection one item per interval, not
// one frame per student, and a user who drops and reconnects within the
// interval (a flaky access point) costs nothing at all.

// PresenceEvery is how often presence changes are announced.
const PresenceEvery = 250 * time.Millisecond

// Frames of the negotiated protocol (Protocol): the whole list once, then changes.
type (
	PresenceSnapshotFrame struct {
		Type    string  `json:"type"`
		UserIDs []int64 `json:"user_ids"`
	}
	PresenceChangesFrame struct {
		Type    string  `json:"type"`
		Online  []int64 `json:"online"`
		Offline []int64 `json:"offline"`
	}
)

type presence struct {
	mu        sync.Mutex
	announced map[int64]struct{} // users every connection has been told are online
	pending   []int64            // users whose state may have changed, in order of change
	isPending map[int64]struct{}
	scheduled bool
	snap      *presenceSnap // cache of the announced set; nil after a change is announced
}

type presenceSnap struct {
	ids []int64 // sorted
	v2  []byte  // the presence_snapshot frame
}

func newPresence() presence {
	return presence{announced: map[int64]struct{}{}, isPending: map[int64]struct{}{}}
}

// presenceChanged records that a user's online state may have changed. The
// caller holds h.mu.
func (h *Hub) presenceChanged(uid int64) {
	p := &h.presence
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.isPending[uid]; !ok {
		p.isPending[uid] = struct{}{}
		p.pending = append(p.pending, uid)
	}
	if !p.scheduled {
		p.scheduled = true
		time.AfterFunc(h.presenceEvery(), h.announcePresence)
	}
}

func (h *Hub) presenceEvery() time.Duration {
	if h.PresenceEvery > 0 {
		return h.PresenceEvery
	}
	return PresenceEvery
}

// announcePresence sends the net changes since the last announcement.
func (h *Hub) announcePresence() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	p := &h.presence
	p.mu.Lock()
	pending := p.pending
	p.pending = nil
	clear(p.isPending)
	p.scheduled = false
	var on, off []int64
	for _, uid := range pending {
		_, was := p.announced[uid]
		now := len(h.byUser[uid]) > 0
		switch {
		case now && !was:
			p.announced[uid] = struct{}{}
			on = append(on, uid)
		case !now && was:
			delete(p.announced, uid)
			off = append(off, uid)
		}
	}
	if len(on)+len(off) > 0 {
		p.snap = nil
	}
	p.mu.Unlock()
	if len(on)+len(off) == 0 || h.closed {
		return
	}
	it := &outItem{data: Encode(PresenceChangesFrame{Type: "presence_changes", Online: nonNil(on), Offline: nonNil(off)})}
	// The unnegotiated form: one presence frame per user, each encoded once here.
	it.multi = make([][]byte, 0, len(on)+len(off))
	for _, uid := range on {
		it.multi = append(it.multi, legacyPresence(nil, uid, true))
	}
	for _, uid := range off {
		it.multi = append(it.multi, legacyPresence(nil, uid, false))
	}
	for c := range h.all {
		c.deliver(it)
	}
}

func nonNil(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

// legacyPresence appends {"type":"presence","user_id":N,"online":B}, as
// Encode(PresenceFrame{...}) would give it, without reflection.
func legacyPresence(b []byte, uid int64, online bool) []byte {
	b = append(b, `{"type":"presence","user_id":`...)
	b = strconv.AppendInt(b, uid, 10)
	if online {
		return append(b, `,"online":true}`...)
	}
	return append(b, `,"online":false}`...)
}

// presenceSnapshot is the announced set, built once per announcement.
func (h *Hub) presenceSnapshot() *presenceSnap {
	p := &h.presence
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.snap == nil {
		ids := make([]int64, 0, len(p.announced))
		for uid := range p.announced {
			ids = append(ids, uid)
		}
		slices.Sort(ids)
		p.snap = &presenceSnap{ids: ids, v2: Encode(PresenceSnapshotFrame{Type: "presence_snapshot", UserIDs: ids})}
	}
	return p.snap
}
