// Package model holds the plain types shared by every layer and the domain errors
// that the API layer alone turns into HTTP statuses.
package model

import (
	"errors"
	"fmt"
	"time"
)

// Roles of an account.
const (
	RoleAdmin = "admin"
	RoleUser  = "user"
	RoleGuest = "guest"
)

// Member roles inside a conversation.
const (
	MemberOwner  = "owner"
	MemberMember = "member"
)

// Conversation kinds.
const (
	KindGroup  = "group"
	KindDirect = "direct"
)

// Registration modes.
const (
	RegistrationOpen   = "open"
	RegistrationCode   = "code"
	RegistrationClosed = "closed"
)

// Time is a UTC instant that marshals as RFC 3339 with milliseconds.
type Time struct{ time.Time }

// TimeLayout is the wire format of every time.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON writes 2026-11-29T09:30:00.123Z.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format(TimeLayout) + `"`), nil
}

// UnmarshalJSON reads RFC 3339.
func (t *Time) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' {
		return errors.New("time: want a string")
	}
	v, err := time.Parse(time.RFC3339Nano, string(b[1:len(b)-1]))
	if err != nil {
		return err
	}
	t.Time = v.UTC()
	return nil
}

// Millis converts a stored unix-millisecond value.
func Millis(ms int64) Time { return Time{time.UnixMilli(ms).UTC()} }

// User is an account as every client may see it (never a password hash).
type User struct {
	ID          int64  `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	Role        string `json:"role"`
	CreatedAt   Time   `json:"created_at"`
	Disabled    bool   `json:"disabled"`
}

// Conversation is a group or direct conversation.
type Conversation struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	Kind       string    `json:"kind"`
	CreatedAt  Time      `json:"created_at"`
	Locked     bool      `json:"locked"`
	AutoJoin   bool      `json:"auto_join"`
	LastSeq    int64     `json:"last_seq"`
	SlowMode   int       `json:"slow_mode_seconds"` // minimum seconds between one member's messages; 0 = off
	Unread     *int64    `json:"unread,omitempty"`
	MemberRole *string   `json:"member_role"` // null for an admin who is not a member
	LastMsg    *Message  `json:"last_message,omitempty"`
	Members    []*Member `json:"members,omitempty"`
}

// Member is a user's membership of a conversation.
type Member struct {
	User     User   `json:"user"`
	Role     string `json:"role"`
	JoinedAt Time   `json:"joined_at"`
}

// Message is one stored chat message.
type Message struct {
	ID             int64  `json:"id"`
	ConversationID int64  `json:"conversation_id"`
	Seq            int64  `json:"seq"`
	Sender         User   `json:"sender"`
	Body           string `json:"body"`
	CreatedAt      Time   `json:"created_at"`
	ClientID       string `json:"client_id"`
	Deleted        bool   `json:"deleted"`
	Pinned         bool   `json:"pinned"`
}

// Settings are the class-wide settings an admin controls.
type Settings struct {
	Name          string   `json:"name"`
	Registration  string   `json:"registration"`
	JoinCode      string   `json:"join_code"`
	GuestAccess   bool     `json:"guest_access"`
	GuestTTLHours int      `json:"guest_ttl_hours"`
	Paused        bool     `json:"paused"`     // only admins can post while true
	DMPolicy      string   `json:"dm_policy"`  // DMPolicyAnyone, DMPolicyStaff or DMPolicyNone
	FlagWords     []string `json:"flag_words"` // lower case; a message containing one as a whole word is flagged
}

// Direct-message policies for students and guests (admins are never limited).
const (
	DMPolicyAnyone = "anyone"
	DMPolicyStaff  = "staff"
	DMPolicyNone   = "none"
)

// Domain errors. The api package maps them to statuses in one place.
var (
	ErrNotFound     = errors.New("not found")
	ErrForbidden    = errors.New("forbidden")
	ErrConflict     = errors.New("conflict")
	ErrUnauthorized = errors.New("unauthorized")
	ErrRateLimited  = errors.New("rate limited")
	ErrInvalid      = errors.New("invalid")
	ErrUnavailable  = errors.New("storage unavailable")
)

// Error is a domain error with a message that is safe to show to clients.
type Error struct {
	Kind       error         // one of the Err* sentinels
	Msg        string        // safe for clients
	RetryAfter time.Duration // for ErrRateLimited
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

// Invalid returns a bad-request error with a client-safe message.
func Invalid(format string, a ...any) error {
	return &Error{Kind: ErrInvalid, Msg: fmt.Sprintf(format, a...)}
}

// Forbidden returns a forbidden error with a client-safe message.
func Forbidden(format string, a ...any) error {
	return &Error{Kind: ErrForbidden, Msg: fmt.Sprintf(format, a...)}
}

// Conflict returns a conflict error with a client-safe message.
func Conflict(format string, a ...any) error {
	return &Error{Kind: ErrConflict, Msg: fmt.Sprintf(format, a...)}
}

// NotFound returns a not-found error with a client-safe message.
func NotFound(what string) error {
	return &Error{Kind: ErrNotFound, Msg: what + " not found"}
}

// RateLimited returns a rate-limit error that says when to retry.
func RateLimited(msg string, after time.Duration) error {
	return &Error{Kind: ErrRateLimited, Msg: msg, RetryAfter: after}
}
