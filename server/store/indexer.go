package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// The full-text index follows the messages behind the commit: indexing inside
// each message commit cost most of the commit's time (FTS5 writes a segment per
// statement). The indexer keeps the newest indexed message id in fts_progress
// (migration 0005) and indexes what is newer in batches, in its own write
// transactions; after a crash or a restart it starts from that id, so no
// message is ever skipped. Edits and deletes are ordered with it by the one
// writer connection: the triggers re-index only ids at or below the mark.
const (
	// indexGather is how long the indexer lets new messages accumulate after
	// a commit before it indexes them: how far search may lag sends.
	indexGather = 50 * time.Millisecond
	// indexBatch bounds one indexing transaction, so the committer waits for
	// the writer connection at most that long.
	indexBatch = 2048
	// indexPoll catches messages written by another process on the same file.
	indexPoll = 2 * time.Second
	// indexRetry is the pause after a failed indexing transaction.
	indexRetry = 500 * time.Millisecond
)

type indexer struct {
	s      *Store
	kick   chan struct{} // new messages were committed
	urgent chan struct{} // someone waits: skip the gathering delay
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once

	mu    sync.Mutex
	round chan struct{} // closed (and replaced) after every indexing round
	err   error         // the last round's error, nil after a good round
}

func (s *Store) startIndexer(ctx context.Context) error {
	ix := &indexer{s: s, kick: make(chan struct{}, 1), urgent: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}), round: make(chan struct{})}
	if _, _, err := s.indexProgress(ctx); err != nil {
		return err
	}
	s.idx = ix
	go ix.loop()
	ix.signal(ix.kick) // catch up with what a crash or another process left
	return nil
}

func (ix *indexer) signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (ix *indexer) close() {
	ix.once.Do(func() { close(ix.stop) })
	<-ix.done
}

func (ix *indexer) loop() {
	defer close(ix.done)
	poll := time.NewTicker(indexPoll)
	defer poll.Stop()
	for {
		select {
		case <-ix.stop:
			return
		case <-ix.urgent:
		case <-poll.C:
		case <-ix.kick:
			t := time.NewTimer(indexGather)
			select {
			case <-ix.stop:
				t.Stop()
				return
			case <-ix.urgent:
				t.Stop()
			case <-t.C:
			}
		}
		err := ix.catchUp()
		ix.mu.Lock()
		ix.err = err
		close(ix.round)
		ix.round = make(chan struct{})
		ix.mu.Unlock()
		if err != nil {
			select {
			case <-ix.stop:
				return
			case <-time.After(indexRetry):
			}
			ix.signal(ix.kick)
		}
	}
}

// catchUp indexes every message committed so far, one batch per transaction.
func (ix *indexer) catchUp() error {
	for {
		select {
		case <-ix.stop:
			return nil
		default:
		}
		// A read first: most rounds after a poll find nothing, and need no lock.
		top, mark, err := ix.s.indexProgress(context.Background())
		if err != nil {
			return err
		}
		if top <= mark {
			return nil
		}
		err = ix.s.tx(context.Background(), func(tx *sql.Tx) error {
			var last, newest int64
			if err := tx.QueryRow(`SELECT last_id, coalesce((SELECT max(id) FROM messages), 0) FROM fts_progress`).Scan(&last, &newest); err != nil {
				return err
			}
			upto := min(newest, last+indexBatch)
			if upto <= last {
				return nil
			}
			if _, err := tx.Exec(`INSERT INTO messages_fts (rowid, body) SELECT id, body FROM messages WHERE id > ? AND id <= ?`, last, upto); err != nil {
				return err
			}
			_, err := tx.Exec(`UPDATE fts_progress SET last_id = ?`, upto)
			return err
		})
		if err != nil {
			return fmt.Errorf("store: index: %w", err)
		}
	}
}

// indexProgress reads the newest message id and the newest indexed one. The
// mark is read from the database each time: deleting the newest messages
// lowers it (migration 0005).
func (s *Store) indexProgress(ctx context.Context) (newest, indexed int64, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT coalesce((SELECT max(id) FROM messages), 0), (SELECT last_id FROM fts_progress)`).Scan(&newest, &indexed)
	if err != nil {
		err = fmt.Errorf("store: index progress: %w", err)
	}
	return newest, indexed, err
}

// waitIndexed returns once every message up to id is in the full-text index,
// asking the indexer not to wait for more messages first.
func (ix *indexer) waitIndexed(ctx context.Context, id int64) error {
	for {
		ix.mu.Lock()
		round, lastErr := ix.round, ix.err
		ix.mu.Unlock()
		_, indexed, err := ix.s.indexProgress(ctx)
		if err != nil {
			return err
		}
		if indexed >= id {
			return nil
		}
		ix.signal(ix.urgent)
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return lastErr
			}
			return ctx.Err()
		case <-ix.stop:
			return fmt.Errorf("store: closed")
		case <-round:
		}
	}
}

// IndexedThrough is the newest message id the full-text index covers.
func (s *Store) IndexedThrough(ctx context.Context) (int64, error) {
	_, indexed, err := s.indexProgress(ctx)
	return indexed, err
}

// WaitIndexed returns once every message committed before the call is
// searchable (or ctx ends).
func (s *Store) WaitIndexed(ctx context.Context) error {
	top, _, err := s.indexProgress(ctx)
	if err != nil {
		return err
	}
	return s.idx.waitIndexed(ctx, top)
}

// messagesCommitted tells the indexer that new messages are there.
func (s *Store) messagesCommitted() { s.idx.signal(s.idx.kick) }
