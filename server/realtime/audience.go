package realtime

import "teamchat/server/model"

// PublishSplit sends one of several versions of a frame to each connection
// that follows conv (when not 0), belongs to one of userIDs, or is an
// admin's: audience picks the version by the connection's user (an index
// into frames, or -1 for none). Each version is encoded once. Questions use
// it so that an anonymous asker is named only to staff and to the asker.
func (h *Hub) PublishSplit(conv int64, userIDs []int64, audience func(u model.User) int, frames ...any) {
	items := make([]*outItem, len(frames))
	h.mu.RLock()
	defer h.mu.RUnlock()
	sent := map[*Client]struct{}{}
	send := func(c *Client) {
		if _, done := sent[c]; done {
			return
		}
		sent[c] = struct{}{}
		i := audience(c.user)
		if i < 0 || i >= len(frames) {
			return
		}
		if items[i] == nil {
			items[i] = &outItem{data: Encode(frames[i])}
		}
		c.deliver(items[i])
	}
	if conv != 0 {
		for c := range h.rooms[conv] {
			send(c)
		}
	}
	for _, uid := range userIDs {
		for c := range h.byUser[uid] {
			send(c)
		}
	}
	for c := range h.admins {
		send(c)
	}
}
