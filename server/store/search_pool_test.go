package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"teamchat/server/model"
)

// Searches with more results than their page hold no reader connection while
// they load the page's reactions and replies: with the reader pool taken by
// concurrent searches, each waiting for a second connection, every read of the
// server stood still (found by the soak test: a class searching a common word).
func TestConcurrentSearchesWithMoreResultsDoNotExhaustTheReaders(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	u := mustUser(t, s, "stu", model.RoleUser)
	conv := mustConv(t, s, "Group", u)
	for i := range 40 {
		if r := appendOne(t, s, ctx, Append{ConversationID: conv, SenderID: u, ClientID: fmt.Sprint(i), Body: fmt.Sprintf("lecture note %d", i)}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	for round := range 5 {
		qctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, 32)
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				page, err := s.Search(qctx, SearchQuery{Text: "lecture", UserID: u, Limit: 5})
				if err == nil && (!page.HasMore || len(page.Results) != 5) {
					err = fmt.Errorf("%d results, has_more %v", len(page.Results), page.HasMore)
				}
				if err != nil {
					errs <- err
				}
			}()
		}
		close(start)
		wg.Wait()
		cancel()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}
