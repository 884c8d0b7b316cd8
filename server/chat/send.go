package chat

import (
	"context"
	"errors"
	"time"

	"teamchat/server/model"
	"teamchat/server/store"
)

// maxBatch bounds one group commit.
const maxBatch = 512

type sendReq struct {
	a    store.Append
	done func(store.AppendResult)
}

// Draft is a message as a client sends it.
type Draft struct {
	ClientID      string
	Body          string
	ReplyTo       int64   // 0: not a reply
	AttachmentIDs []int64 // the sender's unused uploads for this conversation
}

// MaxAttachments is how many files one message may carry.
const MaxAttachments = 10

// Post stores a message and waits until it is committed. created is false when
// the same client_id was already stored (the stored message is returned).
func (s *Service) Post(ctx context.Context, actor model.User, convID int64, d Draft) (model.Message, bool, error) {
	ch := make(chan store.AppendResult, 1)
	if err := s.PostAsync(ctx, actor, convID, d, func(r store.AppendResult) { ch <- r }); err != nil {
		return model.Message{}, false, err
	}
	// Wait for the commit even if the request is cancelled: the write itself
	// is never interrupted, and the result is what a resend would return.
	r := <-ch
	return r.Message, r.Created, r.Err
}

// PostAsync validates a message and queues it for the group committer; done
// runs after the commit (or failure) from the committer goroutine and must not block.
func (s *Service) PostAsync(ctx context.Context, actor model.User, convID int64, d Draft, done func(store.AppendResult)) error {
	if len(d.AttachmentIDs) > MaxAttachments {
		return model.Invalid("attachment_ids: at most %d files per message", MaxAttachments)
	}
	seen := map[int64]bool{}
	for _, id := range d.AttachmentIDs {
		if id <= 0 || seen[id] {
			return store.UnusableAttachment(id)
		}
		seen[id] = true
	}
	if len(d.AttachmentIDs) == 0 || d.Body != "" {
		if err := ValidateBody(d.Body); err != nil {
			return err
		}
	}
	if d.ReplyTo < 0 {
		return model.Invalid("reply_to: must be a message id")
	}
	if d.ClientID != "" {
		if err := ValidateClientID(d.ClientID); err != nil {
			return err
		}
	}
	if convID <= 0 {
		return model.NotFound("conversation")
	}
	if actor.Disabled {
		return &model.Error{Kind: model.ErrUnauthorized, Msg: "account disabled"}
	}
	if err := s.allowMessage(actor.ID); err != nil {
		return err
	}
	return s.enqueue(store.Append{ConversationID: convID, SenderID: actor.ID, ClientID: d.ClientID, Body: d.Body,
		ReplyTo: d.ReplyTo, AttachmentIDs: d.AttachmentIDs}, done)
}

// enqueue hands a checked message to the group committer.
func (s *Service) enqueue(a store.Append, done func(store.AppendResult)) error {
	s.stopMu.RLock()
	defer s.stopMu.RUnlock()
	if s.stopped {
		return &model.Error{Kind: model.ErrUnavailable, Msg: "server is shutting down"}
	}
	s.queue <- &sendReq{a: a, done: done}
	return nil
}

// committer is the group commit loop: it takes every message that is waiting
// (up to maxBatch), stores them in one transaction, then publishes and acks.
// Publishing and acking run in a goroutine of their own, batch after batch in
// commit order, while the next batch is stored: the fsync of one overlaps the
// encoding and delivery of the one before. At most one committed batch waits
// for it, so a slow delivery holds the committer back rather than piling up.
func (s *Service) committer() {
	defer s.commitWG.Done()
	out := make(chan committedBatch, 1)
	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		for c := range out {
			s.deliver(c)
		}
	}()
	defer func() { close(out); <-delivered }() // before commitWG.Done: shutdown waits for the acks
	appends := make([]store.Append, 0, maxBatch)
	for first := range s.queue {
		batch := make([]*sendReq, 1, maxBatch)
		batch[0] = first
	fill:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-s.queue:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		appends = appends[:0]
		for _, r := range batch {
			appends = append(appends, r.a)
		}
		results := s.st.AppendMessages(context.Background(), appends)
		clear(appends) // the batch's bodies are not kept alive by the next one's buffer
		out <- committedBatch{batch, results}
	}
}

// committedBatch is a stored batch on its way to its senders and subscribers.
type committedBatch struct {
	batch   []*sendReq
	results []store.AppendResult
}

// deliver publishes a committed batch's new messages and acks each sender.
func (s *Service) deliver(c committedBatch) {
	for i, res := range c.results {
		if res.Err != nil && !isDomain(res.Err) {
			s.log.Error("storing messages failed", "err", res.Err, "batch", len(c.batch))
			res.Err = &model.Error{Kind: model.ErrUnavailable, Msg: "the message could not be stored; try again"}
		}
		if res.Created {
			ids, err := s.memberIDs(context.Background(), res.Message.ConversationID)
			if err != nil {
				s.log.Error("member lookup failed", "err", err)
			}
			s.hub.PublishMessage(res.Message, ids)
			s.publishMentions(res.Message) // features.go
		}
		c.batch[i].done(res)
		s.flagAfterCommit(res) // keyword flags (flags.go), after the ack
	}
}

func isDomain(err error) bool {
	var de *model.Error
	return errors.As(err, &de) || errors.Is(err, model.ErrConflict) || errors.Is(err, model.ErrNotFound)
}

// expireLoop disables guests whose class session ended and cuts them off.
func (s *Service) expireLoop() {
	defer s.bg.Done()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.ExpireGuests(context.Background())
		}
	}
}

// ExpireGuests ends the class sessions whose planned end has passed, then the
// guest accounts whose lifetime has. Sessions come first: their guests are
// told with session_ended before they are cut off, and counted in the
// session's audit entry. One sweep runs at a time, so when this returns every
// account due by then is disabled and its sockets closed, even if another
// sweep started it.
func (s *Service) ExpireGuests(ctx context.Context) {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	s.endDueSessions(ctx) // sessions.go
	ids, err := s.st.ExpireGuests(ctx)
	if err != nil {
		s.log.Error("guest expiry failed", "err", err)
		return
	}
	for _, id := range ids {
		s.hub.DisconnectUser(id, 4401, "guest access ended")
	}
	if len(ids) > 0 {
		s.forgetMembers(0)
		s.log.Info("guest accounts expired", "count", len(ids))
	}
}
