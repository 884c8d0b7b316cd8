package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"teamchat/server/model"
)

// Sign-in tickets made outside the server process (the command line) are
// kept in the settings table under this prefix and the SHA-256 of the
// ticket, so a copy of the database holds no usable ticket.
const ticketKeyPrefix = "login_ticket:"

func ticketKey(ticket string) string { return ticketKeyPrefix + hex.EncodeToString(hashID(ticket)) }

// PutLoginTicket records a one-time sign-in ticket for userID until
// expiresAt (unix ms), and drops the expired ones.
func (s *Store) PutLoginTicket(ctx context.Context, ticket string, userID, expiresAt int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.Query(`SELECT key, value FROM settings WHERE key LIKE ? ESCAPE '\'`, strings.ReplaceAll(ticketKeyPrefix, "_", `\_`)+"%")
		if err != nil {
			return err
		}
		var stale []string
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return err
			}
			if _, exp, ok := parseTicket(v); !ok || exp <= now() {
				stale = append(stale, k)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, k := range stale {
			if _, err := tx.Exec(`DELETE FROM settings WHERE key = ?`, k); err != nil {
				return err
			}
		}
		_, err = tx.Exec(`INSERT INTO settings (key, value) VALUES (?, ?)`, ticketKey(ticket), fmt.Sprintf("%d:%d", userID, expiresAt))
		return err
	})
}

// TakeLoginTicket consumes a ticket: its user, or ErrNotFound when it is
// unknown, used or expired. Two takes of one ticket: one wins.
func (s *Store) TakeLoginTicket(ctx context.Context, ticket string) (int64, error) {
	var v string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRow(`DELETE FROM settings WHERE key = ? RETURNING value`, ticketKey(ticket)).Scan(&v)
	})
	if err != nil {
		return 0, fmt.Errorf("store: login ticket: %w", mapErr(err))
	}
	uid, exp, ok := parseTicket(v)
	if !ok || exp <= now() {
		return 0, fmt.Errorf("store: login ticket expired: %w", model.ErrNotFound)
	}
	return uid, nil
}

func parseTicket(v string) (uid, exp int64, ok bool) {
	a, b, found := strings.Cut(v, ":")
	uid, err1 := strconv.ParseInt(a, 10, 64)
	exp, err2 := strconv.ParseInt(b, 10, 64)
	return uid, exp, found && err1 == nil && err2 == nil
}
