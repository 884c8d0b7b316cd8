package chat

import (
	"context"
	"time"

	"teamchat/server/model"
	"teamchat/server/realtime"
	"teamchat/server/store"
)

// Audit actions of class sessions.
const (
	AuditSessionStart = "session.start"
	AuditSessionEnd   = "session.end"
)

// maxSessionsListed bounds GET /sessions.
const maxSessionsListed = 1000

// StartClassSession opens a class session (admins only). endsAt, when not
// nil, must be in the future; the session then ends by itself at that time.
// Guests who join while it is active belong to it and end with it.
func (s *Service) StartClassSession(ctx context.Context, actor model.User, name string, endsAt *time.Time) (store.ClassSession, error) {
	if actor.Role != model.RoleAdmin {
		return store.ClassSession{}, model.Forbidden("only admins can start a class session")
	}
	name, err := NormalizeName("name", name)
	if err != nil {
		return store.ClassSession{}, err
	}
	var ends int64
	details := map[string]any{"name": name, "ends_at": nil}
	if endsAt != nil {
		if !endsAt.After(time.Now()) {
			return store.ClassSession{}, model.Invalid("ends_at: must be in the future")
		}
		ends = endsAt.UnixMilli()
		details["ends_at"] = model.Millis(ends)
	}
	// A session past its planned end that the expiry loop has not closed yet
	// is closed now (its guests cut off), so it does not block this one.
	s.EndDueClassSessions(ctx)
	c, err := s.st.StartClassSession(ctx, name, ends, actor.ID, entry(actor, AuditSessionStart, "session", 0, details))
	if err != nil {
		return store.ClassSession{}, err
	}
	s.hub.Broadcast(realtime.SessionFrame{Type: "session_started", Session: c})
	return c, nil
}

// EndClassSession ends an open class session by hand (admins only): its
// guests are disabled and cut off; their messages stay.
func (s *Service) EndClassSession(ctx context.Context, actor model.User, id int64) (store.ClassSession, error) {
	if actor.Role != model.RoleAdmin {
		return store.ClassSession{}, model.Forbidden("only admins can end a class session")
	}
	e, err := s.st.EndClassSession(ctx, id, actor.ID, sessionEndAudit(actor.ID))
	if err != nil {
		return store.ClassSession{}, err
	}
	s.sessionEnded(e)
	return e.Session, nil
}

// EndDueClassSessions ends every session whose planned end has passed. The
// expiry loop calls it; tests may call it to check now.
func (s *Service) EndDueClassSessions(ctx context.Context) {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	s.endDueSessions(ctx)
}

func (s *Service) endDueSessions(ctx context.Context) {
	ended, err := s.st.EndDueClassSessions(ctx, sessionEndAudit(0))
	if err != nil {
		s.log.Error("ending class sessions failed", "err", err)
		return
	}
	for _, e := range ended {
		s.sessionEnded(e)
	}
}

func sessionEndAudit(actorID int64) func(store.ClassSession, int) store.AuditEntry {
	return func(c store.ClassSession, guests int) store.AuditEntry {
		return store.AuditEntry{ActorID: actorID, Action: AuditSessionEnd, TargetType: "session", TargetID: c.ID,
			Details: map[string]any{"name": c.Name, "automatic": actorID == 0, "guests_disabled": guests}}
	}
}

// sessionEnded closes the sockets of the session's guests (their credentials
// already fail), each with session_ended as its last frame before the 4401,
// then tells every other connection.
func (s *Service) sessionEnded(e store.EndedSession) {
	frame := realtime.SessionFrame{Type: "session_ended", Session: e.Session}
	for _, id := range e.GuestIDs {
		s.hub.DisconnectUserWith(id, frame, 4401, "the class session ended")
	}
	s.hub.Broadcast(frame) // the guests' sockets are closing: they do not get it twice
	if len(e.GuestIDs) > 0 {
		s.forgetMembers(0)
	}
	s.log.Info("class session ended", "id", e.Session.ID, "guests", len(e.GuestIDs))
}

// ClassSessions lists the class sessions, newest first (admins only).
func (s *Service) ClassSessions(ctx context.Context, actor model.User) ([]store.ClassSession, error) {
	if actor.Role != model.RoleAdmin {
		return nil, model.Forbidden("only admins can list class sessions")
	}
	return s.st.ClassSessions(ctx, maxSessionsListed)
}

// CurrentClassSession is the active session for GET /info (nil: none).
func (s *Service) CurrentClassSession(ctx context.Context) (*store.SessionInfo, error) {
	c, err := s.st.ActiveClassSession(ctx)
	if err != nil || c == nil {
		return nil, err
	}
	info := c.Info()
	return &info, nil
}
