// Package chat holds Team Chat's use cases: who may do what, and what happens
// when they do. Every REST handler and every WebSocket frame goes through it,
// so authorization is decided in one place; events are published only after
// the change is committed.
package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"teamchat/server/auth"
	"teamchat/server/files"
	"teamchat/server/model"
	"teamchat/server/realtime"
	"teamchat/server/store"
)

// Options tune the service.
type Options struct {
	MsgRate    float64 // messages per second per user; 0 = unlimited
	MsgBurst   int
	BcryptCost int
	Files      *files.Store // attachments' blobs (attachments.go)
	// SignInRate is the sign-in work (password checks and hashes, right or
	// wrong) one client address may cause per minute, as a burst too; 0
	// turns the per-address and per-account budgets off (signin.go).
	SignInRate float64
	// UploadRate is uploads per minute per user (0 = unlimited), with
	// UploadBurst at once; every attempt counts, refused ones too.
	UploadRate  float64
	UploadBurst int
}

// Service is the chat application.
type Service struct {
	st     *store.Store
	hub    *realtime.Hub
	log    *slog.Logger
	hasher *auth.Hasher
	tokens *auth.Tokens
	opts   Options

	queue    chan *sendReq
	stopMu   sync.RWMutex
	stopped  bool
	commitWG sync.WaitGroup

	limMu    sync.Mutex
	limiters map[int64]*rate.Limiter
	typing   map[[2]int64]time.Time

	memMu   sync.Mutex
	members map[int64][]int64 // conversation → member ids (cache for activity frames)

	signin  signInLimits // signin.go
	codes   *auth.FailureLimiter
	tickets *ticketBook

	stop chan struct{}
	bg   sync.WaitGroup

	sweepMu sync.Mutex   // one expiry sweep at a time (sessions.go, send.go)
	replays replayBudget // backlog replays per user (realtime.go)

	flagged chan flagCheck // committed and edited messages for the keyword check (flags.go)

	uploads *userLimiter // per-user upload rate (attachments.go)
}

// New builds the service; Start runs its background work.
func New(st *store.Store, hub *realtime.Hub, tokens *auth.Tokens, log *slog.Logger, opts Options) *Service {
	return &Service{
		st: st, hub: hub, tokens: tokens, log: log, opts: opts,
		hasher:   auth.NewHasher(opts.BcryptCost, 2),
		queue:    make(chan *sendReq, 4096),
		limiters: map[int64]*rate.Limiter{},
		typing:   map[[2]int64]time.Time{},
		members:  map[int64][]int64{},
		signin:   newSignInLimits(opts.SignInRate),
		codes:    auth.NewFailureLimiter(20, 10*time.Minute),
		tickets:  newTicketBook(),
		stop:     make(chan struct{}),
		flagged:  make(chan flagCheck, flagQueueLength),
		uploads:  newUserLimiter(rate.Limit(opts.UploadRate/60), opts.UploadBurst),
	}
}

// Start runs the group committer and the guest expiry.
func (s *Service) Start() {
	s.commitWG.Add(1)
	go s.committer()
	s.bg.Add(1)
	go s.expireLoop()
	s.bg.Add(1)
	go s.flagLoop()
	s.bg.Add(1)
	go s.attachmentLoop()
}

// Stop refuses new messages, commits every message already queued, and waits.
func (s *Service) Stop() {
	s.stopMu.Lock()
	if !s.stopped {
		s.stopped = true
		close(s.queue)
		close(s.stop)
	}
	s.stopMu.Unlock()
	s.commitWG.Wait()
	s.bg.Wait()
}

// Hasher is the password hasher.
func (s *Service) Hasher() *auth.Hasher { return s.hasher }

// Store gives read access for the API layer's plain lookups.
func (s *Service) Store() *store.Store { return s.st }

// Hub is the realtime hub.
func (s *Service) Hub() *realtime.Hub { return s.hub }

// ---- authorization: the one place that decides ----

// Action is something an actor does to a conversation.
type Action int

// Actions checked by Authorize.
const (
	ActRead   Action = iota // see the conversation, its members and messages; subscribe
	ActPost                 // send messages (locks are checked at commit)
	ActManage               // rename, lock, add/remove members, delete any message
	ActAdmin                // delete the conversation, change auto_join
)

// Authorize returns the conversation and the actor's member role ("" when
// not a member) if the actor may do act; otherwise ErrNotFound for those who
// may not even know it exists, ErrForbidden for those who may.
func (s *Service) Authorize(ctx context.Context, actor model.User, convID int64, act Action) (model.Conversation, string, error) {
	if actor.Disabled {
		return model.Conversation{}, "", &model.Error{Kind: model.ErrUnauthorized, Msg: "account disabled"}
	}
	conv, err := s.st.Conversation(ctx, convID)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return conv, "", model.NotFound("conversation")
		}
		return conv, "", err
	}
	role, err := s.st.MemberRole(ctx, convID, actor.ID)
	if err != nil {
		return conv, "", err
	}
	admin := actor.Role == model.RoleAdmin
	if role == "" && !admin {
		return conv, "", model.NotFound("conversation")
	}
	switch act {
	case ActRead, ActPost:
	case ActManage:
		if !admin && role != model.MemberOwner {
			return conv, role, model.Forbidden("only the conversation's owners and admins can do this")
		}
	case ActAdmin:
		if !admin {
			return conv, role, model.Forbidden("only admins can do this")
		}
	}
	return conv, role, nil
}

// ---- conversations ----

// Conversations lists the actor's conversations (every one for an admin).
func (s *Service) Conversations(ctx context.Context, actor model.User) ([]model.Conversation, error) {
	return s.st.ListConversations(ctx, actor.ID, actor.Role == model.RoleAdmin)
}

// Conversation returns one conversation with its members.
func (s *Service) Conversation(ctx context.Context, actor model.User, id int64) (model.Conversation, error) {
	conv, role, err := s.Authorize(ctx, actor, id, ActRead)
	if err != nil {
		return conv, err
	}
	conv.Members, err = s.st.Members(ctx, id)
	if err != nil {
		return conv, err
	}
	if role != "" {
		conv.MemberRole = &role
	}
	conv.UnreadMentions, conv.NotificationsMuted, err = s.st.CallerFlags(ctx, actor.ID, id)
	return conv, err
}

// CreateConversation creates a group (or finds/creates a direct conversation).
// created is false when an existing direct conversation is returned.
func (s *Service) CreateConversation(ctx context.Context, actor model.User, name, kind string, memberIDs []int64) (conv model.Conversation, created bool, err error) {
	if actor.Role == model.RoleGuest {
		return conv, false, model.Forbidden("guests cannot create conversations")
	}
	if len(memberIDs) > 1000 {
		return conv, false, model.Invalid("member_ids: at most 1000")
	}
	switch kind {
	case "", model.KindGroup:
		if name, err = NormalizeName("name", name); err != nil {
			return conv, false, err
		}
		if err = s.checkGroupCreate(ctx, actor, memberIDs); err != nil { // grouppolicy.go
			return conv, false, err
		}
		conv, err = s.st.CreateConversation(ctx, store.NewConversation{Name: name, Kind: model.KindGroup, CreatorID: actor.ID, MemberIDs: memberIDs})
	case model.KindDirect:
		if len(memberIDs) != 1 || memberIDs[0] == actor.ID || memberIDs[0] <= 0 {
			return conv, false, model.Invalid("member_ids: a direct conversation takes exactly one other user")
		}
		other, err := s.st.UserByID(ctx, memberIDs[0])
		if err != nil || other.Disabled {
			return conv, false, model.Invalid("member_ids: no active user %d", memberIDs[0])
		}
		if err := s.checkDMCreate(ctx, actor, other); err != nil {
			return conv, false, err
		}
		a, b := min(actor.ID, other.ID), max(actor.ID, other.ID)
		key := fmt.Sprintf("%d:%d", a, b)
		if existing, err := s.st.DirectConversation(ctx, key); err == nil {
			return existing, false, nil
		}
		conv, err = s.st.CreateConversation(ctx, store.NewConversation{
			Name: actor.DisplayName + " & " + other.DisplayName, Kind: model.KindDirect,
			CreatorID: actor.ID, MemberIDs: []int64{other.ID}, DirectKey: key,
		})
		if errors.Is(err, model.ErrConflict) { // created concurrently
			conv, err = s.st.DirectConversation(ctx, key)
			return conv, false, err
		}
	default:
		return conv, false, model.Invalid("kind: want group or direct")
	}
	if err != nil {
		return conv, false, err
	}
	ids, _ := s.memberIDs(ctx, conv.ID)
	role := model.MemberOwner
	if conv.Kind == model.KindDirect {
		role = model.MemberMember
	}
	s.hub.PublishToUsers(ids, true, realtime.ConversationFrame{Type: "conversation_updated", Conversation: conv})
	conv.MemberRole = &role
	return conv, true, nil
}

// UpdateConversation renames, locks or changes auto_join.
func (s *Service) UpdateConversation(ctx context.Context, actor model.User, id int64, p store.ConversationPatch) (model.Conversation, error) {
	act := ActManage
	if p.AutoJoin != nil {
		act = ActAdmin
	}
	before, _, err := s.Authorize(ctx, actor, id, act)
	if err != nil {
		return before, err
	}
	if p.SlowMode != nil && (*p.SlowMode < 0 || *p.SlowMode > MaxSlowModeSecs) {
		return before, model.Invalid("slow_mode_seconds: 0 to %d", MaxSlowModeSecs)
	}
	conv := before
	if p.Name != nil {
		n, err := NormalizeName("name", *p.Name)
		if err != nil {
			return conv, err
		}
		p.Name = &n
	}
	if conv.Kind == model.KindDirect && (p.AutoJoin != nil && *p.AutoJoin) {
		return conv, model.Invalid("auto_join: not for direct conversations")
	}
	conv, err = s.st.UpdateConversation(ctx, id, p)
	if err != nil {
		return conv, err
	}
	s.auditConversationUpdate(ctx, actor, before, conv)
	ids, _ := s.memberIDs(ctx, id)
	s.hub.PublishToUsers(ids, true, realtime.ConversationFrame{Type: "conversation_updated", Conversation: conv})
	return conv, nil
}

// DeleteConversation removes a conversation (admins only).
func (s *Service) DeleteConversation(ctx context.Context, actor model.User, id int64) error {
	conv, _, err := s.Authorize(ctx, actor, id, ActAdmin)
	if err != nil {
		return err
	}
	ids, _ := s.memberIDs(ctx, id)
	if err := s.st.DeleteConversation(ctx, id); err != nil {
		return err
	}
	s.audit(ctx, &actor, AuditConversationDelete, "conversation", id, map[string]any{"name": conv.Name, "kind": conv.Kind})
	s.forgetMembers(id)
	s.hub.DropConversation(id)
	s.hub.PublishToUsers(ids, true, realtime.ConversationDeletedFrame{Type: "conversation_deleted", ConversationID: id})
	return nil
}

// Members lists a conversation's members.
func (s *Service) Members(ctx context.Context, actor model.User, id int64) ([]*model.Member, error) {
	if _, _, err := s.Authorize(ctx, actor, id, ActRead); err != nil {
		return nil, err
	}
	return s.st.Members(ctx, id)
}

// AddMember adds a user to a group conversation.
func (s *Service) AddMember(ctx context.Context, actor model.User, convID, userID int64, role string) (*model.Member, error) {
	conv, _, err := s.Authorize(ctx, actor, convID, ActManage)
	if err != nil {
		return nil, err
	}
	if conv.Kind == model.KindDirect {
		return nil, model.Forbidden("direct conversations have exactly two members")
	}
	switch role {
	case "":
		role = model.MemberMember
	case model.MemberMember, model.MemberOwner:
	default:
		return nil, model.Invalid("role: want member or owner")
	}
	if err := s.checkGroupAdd(ctx, actor, convID, userID); err != nil { // grouppolicy.go
		return nil, err
	}
	m, err := s.st.AddMember(ctx, convID, userID, role)
	if err != nil {
		if errors.Is(err, model.ErrConflict) {
			return nil, model.Conflict("user %d is already a member", userID)
		}
		return nil, err
	}
	s.forgetMembers(convID)
	s.audit(ctx, &actor, AuditMemberAdd, "user", userID, map[string]any{"conversation_id": convID, "role": role})
	s.hub.PublishTo(convID, []int64{userID}, false, realtime.MemberFrame{Type: "member_added", ConversationID: convID, User: m.User})
	return m, nil
}

// RemoveMember removes a member (owners and admins), or lets a member leave.
func (s *Service) RemoveMember(ctx context.Context, actor model.User, convID, userID int64) error {
	act := ActManage
	if userID == actor.ID {
		act = ActRead
	}
	if _, _, err := s.Authorize(ctx, actor, convID, act); err != nil {
		return err
	}
	u, err := s.st.UserByID(ctx, userID)
	if err != nil {
		return model.NotFound("member")
	}
	if err := s.st.RemoveMember(ctx, convID, userID); err != nil {
		return err
	}
	if userID != actor.ID {
		s.audit(ctx, &actor, AuditMemberRemove, "user", userID, map[string]any{"conversation_id": convID})
	}
	s.forgetMembers(convID)
	s.hub.PublishTo(convID, []int64{userID}, false, realtime.MemberFrame{Type: "member_removed", ConversationID: convID, User: u.User})
	if u.Role != model.RoleAdmin {
		s.hub.DropSubscription(userID, convID)
	}
	return nil
}

// memberIDs returns a conversation's member ids from a small cache.
func (s *Service) memberIDs(ctx context.Context, convID int64) ([]int64, error) {
	s.memMu.Lock()
	ids, ok := s.members[convID]
	s.memMu.Unlock()
	if ok {
		return ids, nil
	}
	ids, err := s.st.MemberIDs(ctx, convID)
	if err != nil {
		return nil, err
	}
	s.memMu.Lock()
	s.members[convID] = ids
	s.memMu.Unlock()
	return ids, nil
}

func (s *Service) forgetMembers(convID int64) {
	s.memMu.Lock()
	defer s.memMu.Unlock()
	if convID == 0 {
		clear(s.members)
		return
	}
	delete(s.members, convID)
}

// announceNewAccount tells the followers of every auto-join conversation that
// a new account joined it (registration, guest, admin creation).
func (s *Service) announceNewAccount(ctx context.Context, u model.User) {
	if s.hub == nil {
		return
	}
	ids, err := s.st.AutoJoinConversations(ctx)
	if err != nil {
		s.log.Error("auto-join lookup failed", "err", err)
		return
	}
	for _, id := range ids {
		s.hub.PublishTo(id, nil, false, realtime.MemberFrame{Type: "member_added", ConversationID: id, User: u})
	}
}

// ---- messages ----

// Messages returns a page of a conversation's history.
func (s *Service) Messages(ctx context.Context, actor model.User, convID int64, after, before *int64, limit int) (store.MessagePage, error) {
	if _, _, err := s.Authorize(ctx, actor, convID, ActRead); err != nil {
		return store.MessagePage{}, err
	}
	switch {
	case after != nil && before != nil:
		return store.MessagePage{}, model.Invalid("give after_seq or before_seq, not both")
	case after != nil:
		return s.st.MessagesAfter(ctx, convID, *after, limit)
	case before != nil:
		return s.st.MessagesBefore(ctx, convID, *before, limit)
	default:
		return s.st.MessagesBefore(ctx, convID, 1<<62, limit)
	}
}

// DeleteMessage soft-deletes a message (its sender, the conversation's owners, admins).
func (s *Service) DeleteMessage(ctx context.Context, actor model.User, msgID int64) error {
	m, err := s.st.Message(ctx, msgID)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return model.NotFound("message")
		}
		return err
	}
	act := ActManage
	if m.Sender.ID == actor.ID {
		act = ActRead
	}
	if _, _, err := s.Authorize(ctx, actor, m.ConversationID, act); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return model.NotFound("message")
		}
		return err
	}
	changed, err := s.st.DeleteMessage(ctx, msgID, actor.ID)
	if err != nil {
		return err
	}
	if changed && m.Sender.ID != actor.ID {
		s.audit(ctx, &actor, AuditMessageDelete, "message", msgID, map[string]any{"conversation_id": m.ConversationID, "sender_id": m.Sender.ID})
	}
	if changed {
		s.hub.PublishToConversation(m.ConversationID, realtime.MessageDeletedFrame{
			Type: "message_deleted", ConversationID: m.ConversationID, MessageID: m.ID, Seq: m.Seq}, 0)
	}
	return nil
}

// MarkRead moves the actor's read marker.
func (s *Service) MarkRead(ctx context.Context, actor model.User, convID, seq int64) error {
	_, role, err := s.Authorize(ctx, actor, convID, ActRead)
	if err != nil {
		return err
	}
	if seq < 0 {
		return model.Invalid("seq: must not be negative")
	}
	if role == "" {
		return nil // an admin reading without membership keeps no marker
	}
	return s.st.SetRead(ctx, actor.ID, convID, seq)
}

// Typing relays a typing notice, at most one per user and conversation every 2 s.
func (s *Service) Typing(ctx context.Context, actor model.User, convID int64) error {
	if _, _, err := s.Authorize(ctx, actor, convID, ActPost); err != nil {
		return err
	}
	key := [2]int64{actor.ID, convID}
	now := time.Now()
	s.limMu.Lock()
	last, seen := s.typing[key]
	if seen && now.Sub(last) < 2*time.Second {
		s.limMu.Unlock()
		return nil
	}
	s.typing[key] = now
	if len(s.typing) > 50000 {
		for k, t := range s.typing {
			if now.Sub(t) > 2*time.Second {
				delete(s.typing, k)
			}
		}
	}
	s.limMu.Unlock()
	s.hub.PublishToConversation(convID, realtime.TypingFrame{Type: "typing", ConversationID: convID, User: actor}, actor.ID)
	return nil
}

// allowMessage applies the per-user message rate limit.
func (s *Service) allowMessage(userID int64) error {
	if s.opts.MsgRate <= 0 {
		return nil
	}
	s.limMu.Lock()
	l := s.limiters[userID]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(s.opts.MsgRate), s.opts.MsgBurst)
		s.limiters[userID] = l
	}
	s.limMu.Unlock()
	r := l.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return model.RateLimited(fmt.Sprintf("too many messages: wait %.1f s", math.Ceil(d.Seconds()*10)/10), d)
	}
	return nil
}
