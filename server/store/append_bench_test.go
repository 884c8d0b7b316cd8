package store

import (
	"context"
	"fmt"
	"testing"

	"teamchat/server/model"
)

// BenchmarkAppendMessages is the group commit's transaction alone: batches of
// messages from 40 senders into one conversation, each batch one commit
// (synchronous=FULL) on the test's temp disk. ns/op is per message.
func BenchmarkAppendMessages(b *testing.B) {
	for _, size := range []int{64, 256, 512} {
		b.Run(fmt.Sprintf("batch-%d", size), func(b *testing.B) {
			s, err := Open(context.Background(), b.TempDir()+"/bench.db")
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			owner, err := s.CreateUser(ctx, NewUser{Username: "owner", DisplayName: "owner", Role: model.RoleUser, PasswordHash: "x"})
			if err != nil {
				b.Fatal(err)
			}
			var senders []int64
			for i := range 40 {
				u, err := s.CreateUser(ctx, NewUser{Username: fmt.Sprint("s", i), DisplayName: "s", Role: model.RoleUser, PasswordHash: "x"})
				if err != nil {
					b.Fatal(err)
				}
				senders = append(senders, u.ID)
			}
			c, err := s.CreateConversation(ctx, NewConversation{Name: "hall", Kind: model.KindGroup, CreatorID: owner.ID, MemberIDs: senders})
			if err != nil {
				b.Fatal(err)
			}
			body := "an eighty byte message body about the lecture, the exercises and the exam today"
			batch := make([]Append, size)
			n := 0
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += size {
				for i := range batch {
					n++
					batch[i] = Append{ConversationID: c.ID, SenderID: senders[n%len(senders)], ClientID: fmt.Sprint("c", n), Body: body}
				}
				for _, r := range s.AppendMessages(ctx, batch) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
			}
			b.StopTimer()
			// The index keeps up behind the commits (not timed).
			if err := s.WaitIndexed(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}
