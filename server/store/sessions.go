package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"teamchat/server/model"
)

// ClassSession is a class session ("Lecture 5") as the API shows it.
type ClassSession struct {
	ID        int64       `json:"id"`
	Name      string      `json:"name"`
	StartedAt model.Time  `json:"started_at"`
	EndsAt    *model.Time `json:"ends_at"`  // planned end; null: ended by hand
	EndedAt   *model.Time `json:"ended_at"` // null while open
	Active    bool        `json:"active"`
}

// SessionInfo is the part of a class session that GET /info shows.
type SessionInfo struct {
	ID        int64       `json:"id"`
	Name      string      `json:"name"`
	StartedAt model.Time  `json:"started_at"`
	EndsAt    *model.Time `json:"ends_at"`
}

// Info is the session as GET /info shows it.
func (c ClassSession) Info() SessionInfo {
	return SessionInfo{ID: c.ID, Name: c.Name, StartedAt: c.StartedAt, EndsAt: c.EndsAt}
}

// EndedSession is a session that was just ended, with the guests it disabled.
type EndedSession struct {
	Session  ClassSession
	GuestIDs []int64
}

const classSessionCols = `id, name, started_at, ends_at, ended_at`

// openSessionWhere selects the session that is active at ?: open and not past its end.
const openSessionWhere = `ended_at IS NULL AND (ends_at IS NULL OR ends_at > ?)`

func scanClassSession(sc scanner, t int64) (ClassSession, error) {
	var c ClassSession
	var started int64
	var ends, ended sql.NullInt64
	if err := sc.Scan(&c.ID, &c.Name, &started, &ends, &ended); err != nil {
		return c, err
	}
	c.StartedAt = model.Millis(started)
	if ends.Valid {
		v := model.Millis(ends.Int64)
		c.EndsAt = &v
	}
	if ended.Valid {
		v := model.Millis(ended.Int64)
		c.EndedAt = &v
	}
	c.Active = !ended.Valid && (!ends.Valid || ends.Int64 > t)
	return c, nil
}

// StartClassSession opens a session (endsAt 0: no planned end) and records
// the audit entry (its target is the new session) in the same transaction.
// An active session answers ErrConflict.
func (s *Store) StartClassSession(ctx context.Context, name string, endsAt, by int64, audit AuditEntry) (ClassSession, error) {
	var c ClassSession
	err := s.tx(ctx, func(tx *sql.Tx) error {
		t := now()
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM class_sessions WHERE `+openSessionWhere, t).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return model.Conflict("a class session is already running; end it first")
		}
		var ends any
		if endsAt > 0 {
			ends = endsAt
		}
		res, err := tx.Exec(`INSERT INTO class_sessions (name, started_at, ends_at, started_by) VALUES (?, ?, ?, ?)`, name, t, ends, nullID(by))
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		if c, err = scanClassSession(tx.QueryRow(`SELECT `+classSessionCols+` FROM class_sessions WHERE id = ?`, id), t); err != nil {
			return err
		}
		audit.TargetID = id
		return insertAuditTx(tx, audit)
	})
	if err != nil {
		// An open session past its end that the expiry has not closed yet.
		if errors.Is(err, model.ErrConflict) {
			return c, model.Conflict("a class session is already running; end it first")
		}
		return c, fmt.Errorf("store: start class session: %w", err)
	}
	return c, nil
}

// ActiveClassSession returns the active session, or nil.
func (s *Store) ActiveClassSession(ctx context.Context) (*ClassSession, error) {
	t := now()
	c, err := scanClassSession(s.r.QueryRowContext(ctx, `SELECT `+classSessionCols+` FROM class_sessions WHERE `+openSessionWhere+
		` ORDER BY id DESC LIMIT 1`, t), t)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: active class session: %w", err)
	}
	return &c, nil
}

// ClassSessions lists sessions, newest first (at most limit).
func (s *Store) ClassSessions(ctx context.Context, limit int) ([]ClassSession, error) {
	t := now()
	rows, err := s.r.QueryContext(ctx, `SELECT `+classSessionCols+` FROM class_sessions ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: class sessions: %w", err)
	}
	defer rows.Close()
	out := []ClassSession{}
	for rows.Next() {
		c, err := scanClassSession(rows, t)
		if err != nil {
			return nil, fmt.Errorf("store: class sessions: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// endSessionTx closes an open session: ended now, its guests disabled and
// their sessions and tokens ended, the audit entry recorded.
func endSessionTx(tx *sql.Tx, id, by int64, t int64, audit func(ClassSession, int) AuditEntry) (EndedSession, error) {
	var out EndedSession
	if _, err := tx.Exec(`UPDATE class_sessions SET ended_at = ?, ended_by = ? WHERE id = ?`, t, nullID(by), id); err != nil {
		return out, err
	}
	rows, err := tx.Query(`SELECT id FROM users WHERE session_id = ? AND role = 'guest' AND disabled = 0`, id)
	if err != nil {
		return out, err
	}
	for rows.Next() {
		var uid int64
		if err := rows.Scan(&uid); err != nil {
			rows.Close()
			return out, err
		}
		out.GuestIDs = append(out.GuestIDs, uid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, err
	}
	for _, uid := range out.GuestIDs {
		if _, err := tx.Exec(`UPDATE users SET disabled = 1 WHERE id = ?`, uid); err != nil {
			return out, err
		}
		if err := revokeUserTx(tx, uid); err != nil {
			return out, err
		}
	}
	if out.Session, err = scanClassSession(tx.QueryRow(`SELECT `+classSessionCols+` FROM class_sessions WHERE id = ?`, id), t); err != nil {
		return out, err
	}
	return out, insertAuditTx(tx, audit(out.Session, len(out.GuestIDs)))
}

// EndClassSession ends an open session by hand. An unknown session answers
// ErrNotFound, an ended one ErrConflict.
func (s *Store) EndClassSession(ctx context.Context, id, by int64, audit func(ClassSession, int) AuditEntry) (EndedSession, error) {
	var out EndedSession
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var ended sql.NullInt64
		if err := tx.QueryRow(`SELECT ended_at FROM class_sessions WHERE id = ?`, id).Scan(&ended); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return model.NotFound("session")
			}
			return err
		}
		if ended.Valid {
			return model.Conflict("this class session has already ended")
		}
		var err error
		out, err = endSessionTx(tx, id, by, now(), audit)
		return err
	})
	if err != nil {
		return out, fmt.Errorf("store: end class session %d: %w", id, err)
	}
	return out, nil
}

// EndDueClassSessions ends the open sessions whose planned end has passed.
func (s *Store) EndDueClassSessions(ctx context.Context, audit func(ClassSession, int) AuditEntry) ([]EndedSession, error) {
	var out []EndedSession
	err := s.tx(ctx, func(tx *sql.Tx) error {
		t := now()
		rows, err := tx.Query(`SELECT id, ends_at FROM class_sessions WHERE ended_at IS NULL AND ends_at IS NOT NULL AND ends_at <= ? ORDER BY id`, t)
		if err != nil {
			return err
		}
		type due struct{ id, ends int64 }
		var ids []due
		for rows.Next() {
			var d due
			if err := rows.Scan(&d.id, &d.ends); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, d := range ids {
			e, err := endSessionTx(tx, d.id, 0, d.ends, audit) // it ended at its planned time
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: end due class sessions: %w", err)
	}
	return out, nil
}

// CreateGuest stores a guest account. When a class session is active the
// guest belongs to it and expires no later than its planned end (checked in
// the same transaction, so a session ending meanwhile is seen).
func (s *Store) CreateGuest(ctx context.Context, nu NewUser) (model.User, error) {
	var u UserRecord
	err := s.tx(ctx, func(tx *sql.Tx) error {
		t := now()
		var sessID int64
		var ends sql.NullInt64
		err := tx.QueryRow(`SELECT id, ends_at FROM class_sessions WHERE `+openSessionWhere+` ORDER BY id DESC LIMIT 1`, t).Scan(&sessID, &ends)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if ends.Valid && (nu.ExpiresAt <= 0 || ends.Int64 < nu.ExpiresAt) {
			nu.ExpiresAt = ends.Int64
		}
		if u, err = createUserTx(tx, nu); err != nil {
			return err
		}
		if sessID > 0 {
			_, err = tx.Exec(`UPDATE users SET session_id = ? WHERE id = ?`, sessID, u.ID)
		}
		return err
	})
	if err != nil {
		return model.User{}, fmt.Errorf("store: create guest: %w", err)
	}
	return u.User, nil
}
