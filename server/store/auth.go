package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"

	"teamchat/server/model"
)

// Session is a browser session.
type Session struct {
	UserID    int64
	CSRFToken string
	ExpiresAt int64 // unix ms
}

func hashID(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// CreateSession stores a session under the hash of its cookie value.
func (s *Store) CreateSession(ctx context.Context, id string, sess Session) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			hashID(id), sess.UserID, sess.CSRFToken, now(), sess.ExpiresAt)
		return err
	})
}

// SessionByID returns a live session, or ErrNotFound.
func (s *Store) SessionByID(ctx context.Context, id string) (Session, error) {
	var sess Session
	err := s.r.QueryRowContext(ctx, `SELECT user_id, csrf_token, expires_at FROM sessions WHERE id_hash = ? AND expires_at > ?`,
		hashID(id), now()).Scan(&sess.UserID, &sess.CSRFToken, &sess.ExpiresAt)
	if err != nil {
		return sess, fmt.Errorf("store: session: %w", mapErr(err))
	}
	return sess, nil
}

// DeleteSession ends one session.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`DELETE FROM sessions WHERE id_hash = ?`, hashID(id))
		return err
	})
}

// RefreshToken is a stored refresh token.
type RefreshToken struct {
	JTI       string
	UserID    int64
	Family    string
	ExpiresAt int64 // unix ms
}

// InsertRefresh records a newly issued refresh token.
func (s *Store) InsertRefresh(ctx context.Context, t RefreshToken) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO refresh_tokens (jti, user_id, family, expires_at, created_at) VALUES (?, ?, ?, ?, ?)`,
			t.JTI, t.UserID, t.Family, t.ExpiresAt, now())
		return err
	})
}

// RotateRefresh atomically revokes the refresh token jti and records next in
// the same family. When jti is unknown, expired or already revoked it answers
// ErrUnauthorized, and a revoked (reused) token also revokes its whole family
// and the account's access tokens.
// ErrRefreshReused is RotateRefresh's answer to a refresh token that was
// already rotated: its whole family is revoked. It is an ErrUnauthorized.
var ErrRefreshReused = fmt.Errorf("refresh token reused: %w", model.ErrUnauthorized)

func (s *Store) RotateRefresh(ctx context.Context, jti string, next RefreshToken) (RefreshToken, error) {
	var old RefreshToken
	reused := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var revoked int
		err := tx.QueryRow(`SELECT user_id, family, expires_at, revoked FROM refresh_tokens WHERE jti = ?`, jti).
			Scan(&old.UserID, &old.Family, &old.ExpiresAt, &revoked)
		if err == sql.ErrNoRows {
			return model.ErrUnauthorized
		}
		if err != nil {
			return err
		}
		if revoked != 0 {
			reused = true
			if _, err := tx.Exec(`UPDATE refresh_tokens SET revoked = 1 WHERE family = ?`, old.Family); err != nil {
				return err
			}
			// A reused token means one of the family's tokens was copied, and
			// the access token issued with it may be the copy: bumping the
			// account's token epoch refuses every access token issued until
			// now (browser sessions are not tokens and stay).
			_, err := tx.Exec(`UPDATE users SET token_epoch = token_epoch + 1 WHERE id = ?`, old.UserID)
			return err
		}
		if old.ExpiresAt <= now() {
			return model.ErrUnauthorized
		}
		res, err := tx.Exec(`UPDATE refresh_tokens SET revoked = 1 WHERE jti = ? AND revoked = 0`, jti)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return model.ErrUnauthorized
		}
		next.Family = old.Family
		next.UserID = old.UserID
		_, err = tx.Exec(`INSERT INTO refresh_tokens (jti, user_id, family, expires_at, created_at) VALUES (?, ?, ?, ?, ?)`,
			next.JTI, next.UserID, next.Family, next.ExpiresAt, now())
		return err
	})
	if err != nil {
		return old, fmt.Errorf("store: rotate refresh: %w", err)
	}
	if reused {
		return old, fmt.Errorf("store: family %s revoked: %w", old.Family, ErrRefreshReused)
	}
	next.Family, next.UserID = old.Family, old.UserID
	return next, nil
}

// RevokeRefresh revokes one refresh token (and nothing else). Unknown tokens are ignored.
func (s *Store) RevokeRefresh(ctx context.Context, jti string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE refresh_tokens SET revoked = 1 WHERE jti = ?`, jti)
		return err
	})
}

// Settings keys.
const (
	SettingName         = "name"
	SettingRegistration = "registration"
	SettingJoinCode     = "join_code"
	SettingGuestAccess  = "guest_access"
	SettingGuestTTL     = "guest_ttl_hours"
	SettingInstallID    = "installation_id"
)

// Settings returns every setting.
func (s *Store) Settings(ctx context.Context) (map[string]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT key, value FROM settings`)
	if err != nil {
		return nil, fmt.Errorf("store: settings: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

// PutSettings writes the given settings in one transaction.
func (s *Store) PutSettings(ctx context.Context, kv map[string]string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for k, v := range kv {
			if _, err := tx.Exec(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// InitSettings writes the settings that are missing (first start) and creates
// the General conversation on a fresh installation.
func (s *Store) InitSettings(ctx context.Context, defaults map[string]string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for k, v := range defaults {
			if _, err := tx.Exec(`INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)`, k, v); err != nil {
				return err
			}
		}
		var initialized int
		if err := tx.QueryRow(`SELECT count(*) FROM settings WHERE key = 'initialized'`).Scan(&initialized); err != nil {
			return err
		}
		if initialized > 0 {
			return nil
		}
		t := now()
		res, err := tx.Exec(`INSERT INTO conversations (name, kind, created_at, auto_join) VALUES ('General', 'group', ?, 1)`, t)
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		if _, err := tx.Exec(`INSERT OR IGNORE INTO conversation_members (conversation_id, user_id, role, joined_at)
			SELECT ?, id, 'member', ? FROM users WHERE disabled = 0`, id, t); err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO settings (key, value) VALUES ('initialized', '1')`)
		return err
	})
}
