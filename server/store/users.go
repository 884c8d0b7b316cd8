package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"teamchat/server/model"
)

// UserRecord is a user with the fields only the server sees.
type UserRecord struct {
	model.User
	PasswordHash string
	ExpiresAt    int64 // unix ms, 0 = never
	TokenEpoch   int64 // access and refresh tokens of other epochs are refused
}

// NewUser is what CreateUser stores.
type NewUser struct {
	Username     string
	DisplayName  string
	Role         string
	PasswordHash string
	ExpiresAt    int64 // unix ms; 0 = never
}

const userCols = `u.id, u.username, u.display_name, u.role, u.created_at, u.disabled, u.password_hash, COALESCE(u.expires_at, 0), u.token_epoch`

type scanner interface{ Scan(...any) error }

func scanUser(sc scanner) (UserRecord, error) {
	var u UserRecord
	var created int64
	var disabled int
	err := sc.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &created, &disabled, &u.PasswordHash, &u.ExpiresAt, &u.TokenEpoch)
	u.CreatedAt = model.Millis(created)
	u.Disabled = disabled != 0
	return u, err
}

// CreateUser stores a new account and makes it a member of every auto-join conversation.
func (s *Store) CreateUser(ctx context.Context, nu NewUser) (model.User, error) {
	var u UserRecord
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = createUserTx(tx, nu)
		return err
	})
	if err != nil {
		return model.User{}, fmt.Errorf("store: create user: %w", err)
	}
	return u.User, nil
}

func createUserTx(tx *sql.Tx, nu NewUser) (UserRecord, error) {
	t := now()
	var exp any
	if nu.ExpiresAt > 0 {
		exp = nu.ExpiresAt
	}
	res, err := tx.Exec(`INSERT INTO users (username, display_name, role, password_hash, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		strings.ToLower(nu.Username), nu.DisplayName, nu.Role, nu.PasswordHash, exp, t)
	if err != nil {
		return UserRecord{}, err
	}
	id, _ := res.LastInsertId()
	if _, err := tx.Exec(`INSERT INTO conversation_members (conversation_id, user_id, role, joined_at)
		SELECT id, ?, 'member', ? FROM conversations WHERE auto_join = 1`, id, t); err != nil {
		return UserRecord{}, err
	}
	return scanUser(tx.QueryRow(`SELECT `+userCols+` FROM users u WHERE u.id = ?`, id))
}

// UserByID returns a user, or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (UserRecord, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users u WHERE u.id = ?`, id))
	if err != nil {
		return u, fmt.Errorf("store: user %d: %w", id, mapErr(err))
	}
	return u, nil
}

// UserByUsername returns a user by case-insensitive username, or ErrNotFound.
func (s *Store) UserByUsername(ctx context.Context, username string) (UserRecord, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users u WHERE u.username = ?`, strings.ToLower(username)))
	if err != nil {
		return u, fmt.Errorf("store: user %q: %w", username, mapErr(err))
	}
	return u, nil
}

// ListUsers returns users whose username or display name contains q (all when q is "").
func (s *Store) ListUsers(ctx context.Context, q string) ([]model.User, error) {
	pattern := "%" + escapeLike(strings.ToLower(q)) + "%"
	rows, err := s.r.QueryContext(ctx, `SELECT `+userCols+` FROM users u
		WHERE lower(u.username) LIKE ? ESCAPE '\' OR lower(u.display_name) LIKE ? ESCAPE '\'
		ORDER BY u.id LIMIT 5000`, pattern, pattern)
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	defer rows.Close()
	users := []model.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list users: %w", err)
		}
		users = append(users, u.User)
	}
	return users, rows.Err()
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// UserPatch holds optional changes to a user.
type UserPatch struct {
	DisplayName  *string
	Role         *string
	Disabled     *bool
	PasswordHash *string
}

// UpdateUser applies p. A role change, password change or disabling also ends
// the user's sessions and refresh tokens and invalidates issued access tokens.
func (s *Store) UpdateUser(ctx context.Context, id int64, p UserPatch) (model.User, error) {
	var u UserRecord
	err := s.tx(ctx, func(tx *sql.Tx) error {
		cur, err := scanUser(tx.QueryRow(`SELECT `+userCols+` FROM users u WHERE u.id = ?`, id))
		if err != nil {
			return err
		}
		revoke := false
		if p.DisplayName != nil {
			cur.DisplayName = *p.DisplayName
		}
		if p.Role != nil && *p.Role != cur.Role {
			cur.Role = *p.Role
			revoke = true
		}
		if p.Disabled != nil && *p.Disabled != cur.Disabled {
			cur.Disabled = *p.Disabled
			revoke = revoke || cur.Disabled
		}
		if p.PasswordHash != nil {
			cur.PasswordHash = *p.PasswordHash
			revoke = true
		}
		if _, err := tx.Exec(`UPDATE users SET display_name = ?, role = ?, disabled = ?, password_hash = ? WHERE id = ?`,
			cur.DisplayName, cur.Role, boolInt(cur.Disabled), cur.PasswordHash, id); err != nil {
			return err
		}
		if revoke {
			if err := revokeUserTx(tx, id); err != nil {
				return err
			}
		}
		u, err = scanUser(tx.QueryRow(`SELECT `+userCols+` FROM users u WHERE u.id = ?`, id))
		return err
	})
	if err != nil {
		return model.User{}, fmt.Errorf("store: update user %d: %w", id, err)
	}
	return u.User, nil
}

// revokeUserTx ends every session and refresh token of a user and refuses access
// tokens issued until now.
func revokeUserTx(tx *sql.Tx, id int64) error {
	if _, err := tx.Exec(`DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
		return err
	}
	if _, err := tx.Exec(`UPDATE refresh_tokens SET revoked = 1 WHERE user_id = ?`, id); err != nil {
		return err
	}
	// Tokens carry the epoch they were issued in; bumping it refuses them all.
	_, err := tx.Exec(`UPDATE users SET token_epoch = token_epoch + 1 WHERE id = ?`, id)
	return err
}

// CountAdmins returns the number of enabled admins.
func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0`).Scan(&n)
	return n, err
}

// FirstAdmin returns the enabled admin with the lowest id.
func (s *Store) FirstAdmin(ctx context.Context) (model.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users u WHERE u.role = 'admin' AND u.disabled = 0 ORDER BY u.id LIMIT 1`))
	if err != nil {
		return model.User{}, fmt.Errorf("store: first admin: %w", mapErr(err))
	}
	return u.User, nil
}

// CreateFirstAdmin creates an admin only if none exists yet, in one transaction.
func (s *Store) CreateFirstAdmin(ctx context.Context, nu NewUser, className string) (model.User, error) {
	var u UserRecord
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM users WHERE role = 'admin'`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return model.Conflict("this class already has an admin")
		}
		var err error
		if u, err = createUserTx(tx, nu); err != nil {
			return err
		}
		if className != "" {
			_, err = tx.Exec(`INSERT INTO settings (key, value) VALUES ('name', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, className)
		}
		return err
	})
	if err != nil {
		return model.User{}, fmt.Errorf("store: first admin: %w", err)
	}
	return u.User, nil
}

// ExpireGuests disables guest accounts whose time has passed and returns their ids.
func (s *Store) ExpireGuests(ctx context.Context) ([]int64, error) {
	var ids []int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// A guest whose lifetime ends with its open class session's planned
		// end is ended by the session (told with session_ended, counted in
		// its audit entry), not here.
		rows, err := tx.Query(`SELECT id FROM users WHERE role = 'guest' AND disabled = 0 AND expires_at IS NOT NULL AND expires_at <= ?
			AND NOT EXISTS (SELECT 1 FROM class_sessions c WHERE c.id = users.session_id AND c.ended_at IS NULL
				AND c.ends_at IS NOT NULL AND c.ends_at <= users.expires_at)`, now())
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		for _, id := range ids {
			if _, err := tx.Exec(`UPDATE users SET disabled = 1 WHERE id = ?`, id); err != nil {
				return err
			}
			if err := revokeUserTx(tx, id); err != nil {
				return err
			}
		}
		return nil
	})
	return ids, err
}

// DisplayNames lists the names of the accounts that can still sign in
// (enabled, guests not expired): the names a new one may not repeat.
func (s *Store) DisplayNames(ctx context.Context) ([]NamedUser, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, display_name, role FROM users
		WHERE disabled = 0 AND (expires_at IS NULL OR expires_at = 0 OR expires_at > ?)`, now())
	if err != nil {
		return nil, fmt.Errorf("store: display names: %w", err)
	}
	defer rows.Close()
	var names []NamedUser
	for rows.Next() {
		var n NamedUser
		if err := rows.Scan(&n.ID, &n.DisplayName, &n.Role); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// NamedUser is an account's id, display name and role.
type NamedUser struct {
	ID          int64
	DisplayName string
	Role        string
}
