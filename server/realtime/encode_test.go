package realtime

import (
	"bytes"
	"testing"

	"teamchat/server/model"
)

// TestFramesAroundAnEncodedMessage: the ack and message frames built around
// a message encoded once are the bytes json.Marshal writes for the frames.
func TestFramesAroundAnEncodedMessage(t *testing.T) {
	edited := model.Millis(1700000000123)
	m := model.Message{ID: 7, ConversationID: 3, Seq: 42, Body: "<b>é & \"q\"</b>\n", ClientID: "c<&>\"1",
		Sender: model.User{ID: 9, Username: "ann", DisplayName: "Ann"}, CreatedAt: model.Millis(1700000000000),
		EditedAt: &edited, Mentions: []int64{9}, Reactions: []model.Reaction{}, Attachments: []model.Attachment{}}
	enc := EncodeMessage(m)
	if got, want := MessageFrameJSON(enc), Encode(MessageFrame{Type: "message", Message: m}); !bytes.Equal(got, want) {
		t.Fatalf("message frame\n got %s\nwant %s", got, want)
	}
	if got, want := AckFrameJSON(m.ClientID, enc), Encode(AckFrame{Type: "ack", ClientID: m.ClientID, Message: m}); !bytes.Equal(got, want) {
		t.Fatalf("ack frame\n got %s\nwant %s", got, want)
	}
}
