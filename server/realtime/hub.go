package realtime

import (
	"sync"
	"time"

	"teamchat/server/model"
)

// Hub knows every authenticated connection, by user and by subscribed
// conversation. Delivery never blocks: a connection whose queue is full is
// evicted (closed with 4008) and the others go on. A mutex guards the maps;
// delivery is a non-blocking channel send, so holding it is short.
type Hub struct {
	mu     sync.RWMutex
	byUser map[int64]map[*Client]struct{}
	rooms  map[int64]map[*Client]struct{}
	admins map[*Client]struct{}
	all    map[*Client]struct{}
	conns  map[*Client]struct{} // every open connection, authenticated or not
	// pending: connections whose credentials are being checked again before
	// they register; DisconnectUser closes them too (see Client.authenticated).
	pending map[int64]map[*Client]struct{}
	closed  bool

	presence presence

	// AuthWait is how long a connection may stay unauthenticated (10 s).
	AuthWait time.Duration
	// PresenceEvery is how often presence changes are announced (PresenceEvery when 0).
	PresenceEvery time.Duration
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{
		byUser: map[int64]map[*Client]struct{}{},
		rooms:  map[int64]map[*Client]struct{}{},
		admins: map[*Client]struct{}{},
		all:    map[*Client]struct{}{},
		conns:  map[*Client]struct{}{},

		pending:  map[int64]map[*Client]struct{}{},
		presence: newPresence(),

		AuthWait: authWait,
	}
}

// track records an open connection (before authentication); false when closed.
func (h *Hub) track(c *Client) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.conns[c] = struct{}{}
	return true
}

// claim records that c is about to register for its user, so that a
// revocation from now on finds it (DisconnectUser); false when closed.
func (h *Hub) claim(c *Client) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	set := h.pending[c.user.ID]
	if set == nil {
		set = map[*Client]struct{}{}
		h.pending[c.user.ID] = set
	}
	set[c] = struct{}{}
	return true
}

// unclaim forgets a claim (the connection will not register).
func (h *Hub) unclaim(c *Client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropPending(c)
}

func (h *Hub) dropPending(c *Client) {
	if set := h.pending[c.user.ID]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.pending, c.user.ID)
		}
	}
}

// register turns a claimed client into an authenticated one and reports
// whether it is its user's first connection (the user came online). It
// refuses when the hub is closed or the client is already closing (a
// revocation closed it while its credentials were checked).
func (h *Hub) register(c *Client) (first bool, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropPending(c)
	if h.closed || c.closing() {
		return false, false
	}
	set := h.byUser[c.user.ID]
	if set == nil {
		set = map[*Client]struct{}{}
		h.byUser[c.user.ID] = set
	}
	set[c] = struct{}{}
	h.all[c] = struct{}{}
	if c.user.Role == model.RoleAdmin {
		h.admins[c] = struct{}{}
	}
	if len(set) == 1 {
		h.presenceChanged(c.user.ID)
	}
	return len(set) == 1, true
}

// unregister removes a client everywhere and reports whether its user went offline.
func (h *Hub) unregister(c *Client) (last bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, c)
	h.dropPending(c)
	if _, ok := h.all[c]; !ok {
		return false
	}
	delete(h.all, c)
	delete(h.admins, c)
	for conv := range c.rooms {
		if room := h.rooms[conv]; room != nil {
			delete(room, c)
			if len(room) == 0 {
				delete(h.rooms, conv)
			}
		}
	}
	set := h.byUser[c.user.ID]
	delete(set, c)
	if len(set) == 0 {
		delete(h.byUser, c.user.ID)
		h.presenceChanged(c.user.ID)
		return true
	}
	return false
}

func (h *Hub) subscribe(c *Client, conv int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.all[c]; !ok {
		return
	}
	room := h.rooms[conv]
	if room == nil {
		room = map[*Client]struct{}{}
		h.rooms[conv] = room
	}
	room[c] = struct{}{}
	c.rooms[conv] = struct{}{}
}

func (h *Hub) unsubscribe(c *Client, conv int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if room := h.rooms[conv]; room != nil {
		delete(room, c)
		if len(room) == 0 {
			delete(h.rooms, conv)
		}
	}
	delete(c.rooms, conv)
}

// Online is the number of users with at least one connection.
func (h *Hub) Online() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.byUser)
}

// IsOnline reports whether a user has a connection.
func (h *Hub) IsOnline(userID int64) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.byUser[userID]) > 0
}

// OnlineUsers lists the users with a connection.
func (h *Hub) OnlineUsers() []int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	ids := make([]int64, 0, len(h.byUser))
	for id := range h.byUser {
		ids = append(ids, id)
	}
	return ids
}

// Connections is the number of open authenticated connections.
func (h *Hub) Connections() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.all)
}

// PublishMessage sends a new message's frame to the conversation's
// subscribers (they filter by seq) and an activity frame to the connections
// of members (and admins) that do not follow the conversation.
func (h *Hub) PublishMessage(m model.Message, memberIDs []int64) {
	msg := &outItem{data: Encode(MessageFrame{Type: "message", Message: m}), conv: m.ConversationID, seq: m.Seq}
	h.mu.RLock()
	defer h.mu.RUnlock()
	room := h.rooms[m.ConversationID]
	for c := range room {
		c.deliver(msg)
	}
	// Activity goes to the connections outside the room. In a lecture nearly
	// every connection is in it: then look at those few, not at every member.
	switch outside := len(h.all) - len(room); {
	case outside <= 0:
		return
	case outside <= 8:
		for c := range h.all {
			if _, in := room[c]; !in && (c.user.Role == model.RoleAdmin || isMember(memberIDs, c.user.ID)) {
				c.deliverActivity(m.ConversationID, m.Seq)
			}
		}
		return
	}
	for _, uid := range memberIDs {
		for c := range h.byUser[uid] {
			if _, in := room[c]; !in {
				c.deliverActivity(m.ConversationID, m.Seq)
			}
		}
	}
	for c := range h.admins {
		if _, in := room[c]; in {
			continue
		}
		if isMember(memberIDs, c.user.ID) {
			continue
		}
		c.deliverActivity(m.ConversationID, m.Seq)
	}
}

func isMember(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// PublishToConversation sends a frame to the conversation's subscribers,
// except the connections of user except (0 for none).
func (h *Hub) PublishToConversation(conv int64, frame any, except int64) {
	it := &outItem{data: Encode(frame), conv: conv}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.rooms[conv] {
		if except != 0 && c.user.ID == except {
			continue
		}
		c.deliver(it)
	}
}

// PublishTo sends a frame once to each connection that follows conv (when
// conv is not 0), belongs to one of userIDs, or, when admins is true, is an admin's.
func (h *Hub) PublishTo(conv int64, userIDs []int64, admins bool, frame any) {
	it := &outItem{data: Encode(frame)}
	h.mu.RLock()
	defer h.mu.RUnlock()
	sent := map[*Client]struct{}{}
	send := func(c *Client) {
		if _, done := sent[c]; !done {
			sent[c] = struct{}{}
			c.deliver(it)
		}
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
	if admins {
		for c := range h.admins {
			send(c)
		}
	}
}

// PublishToUsers sends a frame to every connection of the given users and,
// when admins is true, of every admin.
func (h *Hub) PublishToUsers(userIDs []int64, admins bool, frame any) {
	h.PublishTo(0, userIDs, admins, frame)
}

// Broadcast sends a frame to every connection.
func (h *Hub) Broadcast(frame any) {
	it := &outItem{data: Encode(frame)}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.all {
		c.deliver(it)
	}
}

// DropSubscription stops a user's connections from following a conversation
// (after the user left or was removed), telling each with `unsubscribed`.
func (h *Hub) DropSubscription(userID, conv int64) {
	h.mu.Lock()
	var cs []*Client
	for c := range h.byUser[userID] {
		if _, ok := c.rooms[conv]; ok {
			cs = append(cs, c)
		}
	}
	h.mu.Unlock()
	for _, c := range cs {
		h.unsubscribe(c, conv)
		c.enqueue(&outItem{kind: itemUnsubscribe, conv: conv})
	}
}

// DropConversation unsubscribes everybody from a deleted conversation.
func (h *Hub) DropConversation(conv int64) {
	h.mu.RLock()
	var cs []*Client
	for c := range h.rooms[conv] {
		cs = append(cs, c)
	}
	h.mu.RUnlock()
	for _, c := range cs {
		h.unsubscribe(c, conv)
		c.enqueue(&outItem{kind: itemUnsubscribe, conv: conv})
	}
}

// DisconnectUser closes every connection of a user with code and reason,
// those still checking their credentials included: once it returns, none of
// them is queued another frame or starts handling another one it reads.
func (h *Hub) DisconnectUser(userID int64, code int, reason string) {
	h.DisconnectUserWith(userID, nil, code, reason)
}

// DisconnectUserWith is DisconnectUser with a last frame (nil: none) that each
// connection writes just before its close frame, whatever else is queued.
func (h *Hub) DisconnectUserWith(userID int64, last any, code int, reason string) {
	var data []byte
	if last != nil {
		data = Encode(last)
	}
	h.mu.RLock()
	var cs []*Client
	for c := range h.byUser[userID] {
		cs = append(cs, c)
	}
	for c := range h.pending[userID] {
		cs = append(cs, c)
	}
	h.mu.RUnlock()
	for _, c := range cs {
		c.closeWithLast(code, reason, data)
	}
}

// Close closes every connection with code (1001 at shutdown) and refuses new ones.
// It returns once every connection's goroutines have finished or done is closed.
func (h *Hub) Close(code int, reason string, done <-chan struct{}) {
	h.mu.Lock()
	h.closed = true
	cs := make([]*Client, 0, len(h.conns))
	for c := range h.conns {
		cs = append(cs, c)
	}
	h.mu.Unlock()
	for _, c := range cs {
		c.closeWith(code, reason)
	}
	for _, c := range cs {
		select {
		case <-c.finished:
		case <-done:
			return
		}
	}
}

// Closed reports whether Close was called.
func (h *Hub) Closed() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.closed
}
