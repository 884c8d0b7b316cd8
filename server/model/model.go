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

	UnreadMentions     int64 `json:"unread_mentions"`     // mentions of the caller above their read marker
	NotificationsMuted bool  `json:"notifications_muted"` // the caller muted notifications of this conversation
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

	// Omitted when empty (null, 0, false, no elements): every message goes to every
	// subscriber, and most have none of these.
	EditedAt    *Time         `json:"edited_at,omitempty"`   // absent: never edited
	ReplyTo     *ReplyPreview `json:"reply_to,omitempty"`    // absent: not a reply
	ReplyCount  int           `json:"reply_count,omitempty"` // replies that are not deleted
	Mentions    []int64       `json:"mentions,omitempty"`    // ids of the mentioned users (with @all: every member but the sender)
	MentionAll  bool          `json:"mention_all,omitempty"`
	Reactions   []Reaction    `json:"reactions,omitempty"`
	Attachments []Attachment  `json:"attachments,omitempty"`
}

// ReplyPreview is the quoted message a reply points at.
type ReplyPreview struct {
	ID      int64  `json:"id"`
	Seq     int64  `json:"seq"`
	Sender  User   `json:"sender"`
	Body    string `json:"body"` // at most 200 characters; "" when deleted
	Deleted bool   `json:"deleted"`
}

// Reaction is one emoji on a message: how many and who.
type Reaction struct {
	Emoji   string  `json:"emoji"`
	Count   int     `json:"count"`
	UserIDs []int64 `json:"user_ids"` // in the order they reacted
}

// Attachment is a file attached to a message (or uploaded for one).
type Attachment struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	ContentType  string `json:"content_type"`
	Size         int64  `json:"size"`
	Width        int    `json:"width"`  // images only, else 0
	Height       int    `json:"height"` // images only, else 0
	Inline       bool   `json:"inline"` // a safe image, shown in the page
	URL          string `json:"url"`
	ThumbnailURL string `json:"thumbnail_url"` // "" when there is none
}

// Settings are the class-wide settings an admin controls.
type Settings struct {
	Name          string   `json:"name"`
	Registration  string   `json:"registration"`
	JoinCode      string   `json:"join_code"`
	GuestAccess   bool     `json:"guest_access"`
	GuestTTLHours int      `json:"guest_ttl_hours"`
	Paused        bool     `json:"paused"`       // only admins can post while true
	DMPolicy      string   `json:"dm_policy"`    // DMPolicyAnyone, DMPolicyStaff or DMPolicyNone
	GroupPolicy   string   `json:"group_policy"` // GroupPolicyAnyone or GroupPolicyStaff
	FlagWords     []string `json:"flag_words"`   // lower case; a message containing one as a whole word is flagged

	EditWindowMinutes int `json:"edit_window_minutes"` // senders may edit this long after sending; 0 = never
	MaxUploadMiB      int `json:"max_upload_mib"`      // largest attachment
	UploadQuotaMiB    int `json:"upload_quota_mib"`    // per user, all their attachments
}

// Defaults of the issue-8 settings.
const (
	DefaultEditWindowMinutes = 15
	DefaultMaxUploadMiB      = 10
	DefaultUploadQuotaMiB    = 200
)

// Direct-message policies for students and guests (admins are never limited).
const (
	DMPolicyAnyone = "anyone"
	DMPolicyStaff  = "staff"
	DMPolicyNone   = "none"
)

// Group policies: who may create groups (admins always may).
const (
	GroupPolicyAnyone = "anyone" // students too (guests never)
	GroupPolicyStaff  = "staff"  // admins only
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
	ErrTooLarge     = errors.New("too large") // a file over the size limit or the quota
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

// TooLarge returns a too-large error (a file over a limit) with a client-safe message.
func TooLarge(format string, a ...any) error {
	return &Error{Kind: ErrTooLarge, Msg: fmt.Sprintf(format, a...)}
}

// RateLimited returns a rate-limit error that says when to retry.
func RateLimited(msg string, after time.Duration) error {
	return &Error{Kind: ErrRateLimited, Msg: msg, RetryAfter: after}
}
