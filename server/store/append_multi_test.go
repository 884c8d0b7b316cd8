package store

import (
	"context"
	"fmt"
	"testing"
)

// TestBatchIDsMatchTheStoredRows: in a batch that mixes plain messages
// (inserted several to a statement), mentions, replies, a resend within the
// batch and two conversations, every result carries the id and seq its row
// was stored with, and ids grow with seqs.
func TestBatchIDsMatchTheStoredRows(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.s, context.Background()
	conv2 := mustConv(t, s, "Second", f.member, f.owner)
	first := appendOne(t, s, ctx, Append{ConversationID: f.conv, SenderID: f.member, ClientID: "r", Body: "to reply to"})
	var batch []Append
	for i := range 300 {
		a := Append{ConversationID: f.conv, SenderID: f.member, ClientID: fmt.Sprint("m", i), Body: fmt.Sprint("plain ", i)}
		switch {
		case i%7 == 3:
			a.ConversationID = conv2
		case i%50 == 10:
			a.Body = "@owner look"
		case i%60 == 20:
			a.ReplyTo = first.Message.ID
		case i%90 == 30:
			a.ClientID = fmt.Sprint("m", i-1) // a resend of the one before, same batch
			a.Body = batch[i-1].Body
			a.ConversationID = batch[i-1].ConversationID
		}
		batch = append(batch, a)
	}
	results := s.AppendMessages(ctx, batch)
	lastID := map[int64]int64{}
	for i, r := range results {
		if r.Err != nil {
			t.Fatalf("%d: %v", i, r.Err)
		}
		m, err := s.Message(ctx, r.Message.ID)
		if err != nil {
			t.Fatalf("%d: the result's id %d: %v", i, r.Message.ID, err)
		}
		if m.Seq != r.Message.Seq || m.ConversationID != r.Message.ConversationID || m.Body != batch[i].Body || m.ClientID != r.Message.ClientID {
			t.Fatalf("%d: result %+v, stored %+v", i, r.Message, m)
		}
		if !r.Created {
			continue
		}
		if r.Message.ID <= lastID[m.ConversationID] {
			t.Fatalf("%d: id %d after %d in the same conversation", i, r.Message.ID, lastID[m.ConversationID])
		}
		lastID[m.ConversationID] = r.Message.ID
	}
}
