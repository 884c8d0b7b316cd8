// Package realtime is the WebSocket side: a hub that knows which connection
// follows which conversation, and one read and one write goroutine per
// connection. It knows the model, not HTTP routes or SQL.
package realtime

import (
	"encoding/json"

	"teamchat/server/model"
)

// Inbound is any client → server frame. Decoding is strict: unknown fields are refused.
type Inbound struct {
	Type           string  `json:"type"`
	Token          string  `json:"token,omitempty"`
	ConversationID int64   `json:"conversation_id,omitempty"`
	AfterSeq       *int64  `json:"after_seq,omitempty"`
	ClientID       string  `json:"client_id,omitempty"`
	Body           string  `json:"body,omitempty"`
	Seq            int64   `json:"seq,omitempty"`
	ReplyTo        int64   `json:"reply_to,omitempty"`
	AttachmentIDs  []int64 `json:"attachment_ids,omitempty"`
}

// Outbound frames. The type field comes first in every one.
type (
	ReadyFrame struct {
		Type string     `json:"type"`
		User model.User `json:"user"`
	}
	MessageFrame struct {
		Type    string        `json:"type"`
		Message model.Message `json:"message"`
	}
	AckFrame struct {
		Type     string        `json:"type"`
		ClientID string        `json:"client_id"`
		Message  model.Message `json:"message"`
	}
	SubscribedFrame struct {
		Type           string `json:"type"`
		ConversationID int64  `json:"conversation_id"`
		LastSeq        int64  `json:"last_seq"`
		HasMore        bool   `json:"has_more"`
	}
	UnsubscribedFrame struct {
		Type           string `json:"type"`
		ConversationID int64  `json:"conversation_id"`
	}
	MessageDeletedFrame struct {
		Type           string `json:"type"`
		ConversationID int64  `json:"conversation_id"`
		MessageID      int64  `json:"message_id"`
		Seq            int64  `json:"seq"`
	}
	TypingFrame struct {
		Type           string     `json:"type"`
		ConversationID int64      `json:"conversation_id"`
		User           model.User `json:"user"`
	}
	PresenceFrame struct {
		Type   string `json:"type"`
		UserID int64  `json:"user_id"`
		Online bool   `json:"online"`
	}
	ConversationFrame struct {
		Type         string             `json:"type"`
		Conversation model.Conversation `json:"conversation"`
	}
	MemberFrame struct {
		Type           string     `json:"type"`
		ConversationID int64      `json:"conversation_id"`
		User           model.User `json:"user"`
	}
	ActivityFrame struct {
		Type           string `json:"type"`
		ConversationID int64  `json:"conversation_id"`
		LastSeq        int64  `json:"last_seq"`
	}
	ErrorFrame struct {
		Type     string `json:"type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		ClientID string `json:"client_id,omitempty"`
		// ConversationID: the conversation of a refused subscribe.
		ConversationID int64 `json:"conversation_id,omitempty"`
	}
)

// Encode marshals a frame once; the bytes are shared by every recipient.
func Encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // frames are plain structs; this cannot fail
	}
	return b
}

// ConversationDeletedFrame tells members a conversation is gone.
type ConversationDeletedFrame struct {
	Type           string `json:"type"`
	ConversationID int64  `json:"conversation_id"`
}

// Moderation frames.
type (
	// MemberMutedFrame: Until is null when the member was unmuted.
	MemberMutedFrame struct {
		Type           string      `json:"type"`
		ConversationID int64       `json:"conversation_id"`
		UserID         int64       `json:"user_id"`
		Until          *model.Time `json:"until"`
	}
	MessagePinnedFrame struct {
		Type           string `json:"type"`
		ConversationID int64  `json:"conversation_id"`
		MessageID      int64  `json:"message_id"`
		Pinned         bool   `json:"pinned"`
	}
	ClassPausedFrame struct {
		Type   string `json:"type"`
		Paused bool   `json:"paused"`
	}
)

// Class session and flag frames (issue 6). Their payloads are the store's
// objects (realtime does not import store): a class session, a flag.
type (
	// SessionFrame is session_started or session_ended.
	SessionFrame struct {
		Type    string `json:"type"`
		Session any    `json:"session"`
	}
	// MessageFlaggedFrame goes to admins when a message is flagged or reported.
	MessageFlaggedFrame struct {
		Type string `json:"type"`
		Flag any    `json:"flag"`
	}
)

// Everyday-feature frames (issue 8).
type (
	// MessageEditedFrame carries the whole message as edited.
	MessageEditedFrame struct {
		Type           string        `json:"type"`
		ConversationID int64         `json:"conversation_id"`
		Message        model.Message `json:"message"`
	}
	// ReactionFrame is reaction_added or reaction_removed, with the message's
	// whole list after the change.
	ReactionFrame struct {
		Type           string           `json:"type"`
		ConversationID int64            `json:"conversation_id"`
		MessageID      int64            `json:"message_id"`
		Emoji          string           `json:"emoji"`
		UserID         int64            `json:"user_id"`
		Reactions      []model.Reaction `json:"reactions"`
	}
	// MentionedFrame goes to every connection of a mentioned user.
	MentionedFrame struct {
		Type           string        `json:"type"`
		ConversationID int64         `json:"conversation_id"`
		Message        model.Message `json:"message"`
	}
)
