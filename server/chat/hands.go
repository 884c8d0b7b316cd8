package chat

import (
	"context"
	"slices"

	"teamchat/server/model"
	"teamchat/server/store"
)

// Raised hands, per conversation (the class as a whole raises them in its
// auto-join conversation). The queue is visible to the conversation's
// members, as a raised hand is visible in the room; the moderation of every
// write but sending applies to raising (store.RaiseHand).

// HandFrame is hand_raised: the hand with its place.
type HandFrame struct {
	Type           string     `json:"type"`
	ConversationID int64      `json:"conversation_id"`
	Hand           store.Hand `json:"hand"`
}

// HandLoweredFrame is hand_lowered: whose hand, why, and who lowered it
// (null when its user did).
type HandLoweredFrame struct {
	Type           string `json:"type"`
	ConversationID int64  `json:"conversation_id"`
	UserID         int64  `json:"user_id"`
	Reason         string `json:"reason"`
	ByUserID       *int64 `json:"by_user_id"`
}

// HandClearedFrame is hand_cleared: "lower all" took these hands down.
type HandClearedFrame struct {
	Type           string  `json:"type"`
	ConversationID int64   `json:"conversation_id"`
	UserIDs        []int64 `json:"user_ids"`
	ByUserID       int64   `json:"by_user_id"`
}

// publishHand sends a hand frame to the conversation's followers, every
// connection of its members (a student's place changes wherever they are
// looking) and the admins.
func (s *Service) publishHand(ctx context.Context, convID int64, frame any) {
	ids, _ := s.memberIDs(ctx, convID)
	s.hub.PublishTo(convID, ids, true, frame)
}

// Hands is a conversation's queue (readers of the conversation).
func (s *Service) Hands(ctx context.Context, actor model.User, convID int64) ([]store.Hand, error) {
	if _, _, err := s.Authorize(ctx, actor, convID, ActRead); err != nil {
		return nil, err
	}
	return s.st.Hands(ctx, convID)
}

// RaiseHand puts the actor's hand up; raised is false when it already was.
func (s *Service) RaiseHand(ctx context.Context, actor model.User, convID int64) (store.Hand, bool, error) {
	if _, _, err := s.Authorize(ctx, actor, convID, ActPost); err != nil {
		return store.Hand{}, false, err
	}
	h, raised, _, err := s.st.RaiseHand(ctx, convID, actor.ID)
	if err != nil {
		return h, false, err
	}
	if raised {
		s.publishHand(ctx, convID, HandFrame{Type: "hand_raised", ConversationID: convID, Hand: h})
	}
	return h, raised, nil
}

// LowerHand puts userID's hand down: the actor's own (any reader), anyone's
// (owners and admins). Lowering a hand that is not up changes nothing.
func (s *Service) LowerHand(ctx context.Context, actor model.User, convID, userID int64) error {
	act, reason := ActManage, store.HandLowered
	if userID == actor.ID {
		act, reason = ActRead, store.HandSelf
	}
	if _, _, err := s.Authorize(ctx, actor, convID, act); err != nil {
		return err
	}
	lowered, _, err := s.st.LowerHand(ctx, convID, userID, actor.ID, reason)
	if err != nil || !lowered {
		return err
	}
	f := HandLoweredFrame{Type: "hand_lowered", ConversationID: convID, UserID: userID, Reason: reason}
	if userID != actor.ID {
		f.ByUserID = &actor.ID
	}
	s.publishHand(ctx, convID, f)
	return nil
}

// NextHand calls on the first hand of the queue and lowers it (owners and
// admins); not_found when no hand is up.
func (s *Service) NextHand(ctx context.Context, actor model.User, convID int64) (store.Hand, error) {
	if _, _, err := s.Authorize(ctx, actor, convID, ActManage); err != nil {
		return store.Hand{}, err
	}
	h, ok, _, err := s.st.NextHand(ctx, convID, actor.ID)
	if err != nil {
		return h, err
	}
	if !ok {
		return h, model.NotFound("raised hand")
	}
	f := HandLoweredFrame{Type: "hand_lowered", ConversationID: convID, UserID: h.User.ID, Reason: store.HandNext}
	if h.User.ID != actor.ID {
		f.ByUserID = &actor.ID
	}
	s.publishHand(ctx, convID, f)
	return h, nil
}

// LowerAllHands lowers every hand of the conversation (owners and admins)
// and returns how many were up.
func (s *Service) LowerAllHands(ctx context.Context, actor model.User, convID int64) (int, error) {
	if _, _, err := s.Authorize(ctx, actor, convID, ActManage); err != nil {
		return 0, err
	}
	ids, err := s.st.LowerAllHands(ctx, convID, actor.ID)
	if err != nil {
		return 0, err
	}
	if len(ids) > 0 {
		s.publishHand(ctx, convID, HandClearedFrame{Type: "hand_cleared", ConversationID: convID, UserIDs: ids, ByUserID: actor.ID})
	}
	return len(ids), nil
}

// countHands adds each account's raised hands in the range to its
// participation row (admins have none).
func countHands(ctx context.Context, st *store.Store, since, until *int64, rows map[int64]*ParticipationRow) error {
	events, err := st.HandEvents(ctx, 0, since, until)
	if err != nil {
		return err
	}
	for _, e := range events {
		if row := rows[e.User.ID]; row != nil && e.Raised {
			row.HandsRaised++
		}
	}
	return nil
}

// sessionHands puts the hand events of a session's window into the
// transcript's conversations.
func sessionHands(ctx context.Context, st *store.Store, t *SessionTranscript, since, until *int64) error {
	events, err := st.HandEvents(ctx, 0, since, until)
	if err != nil {
		return err
	}
	for _, e := range events {
		i, err := sessionSection(ctx, st, t, e.ConversationID)
		if err != nil {
			return err
		}
		t.Conversations[i].Hands = append(t.Conversations[i].Hands, e)
	}
	return nil
}

// sessionSection is the index of convID's section in a session transcript,
// adding one (in id order) for a conversation that had hands or questions
// but no messages.
func sessionSection(ctx context.Context, st *store.Store, t *SessionTranscript, convID int64) (int, error) {
	i := slices.IndexFunc(t.Conversations, func(c SessionConversation) bool { return c.Conversation.ID >= convID })
	if i >= 0 && t.Conversations[i].Conversation.ID == convID {
		return i, nil
	}
	conv, err := transcriptConversation(ctx, st, convID)
	if err != nil {
		return 0, err
	}
	if i < 0 {
		i = len(t.Conversations)
	}
	t.Conversations = slices.Insert(t.Conversations, i, SessionConversation{Conversation: conv, Messages: []model.Message{},
		Hands: []store.HandEvent{}, Questions: []store.QuestionRecord{}})
	return i, nil
}
