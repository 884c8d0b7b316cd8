package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"teamchat/server/model"
)

// ---- helpers ----

func openAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open %s: %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openTemp(t *testing.T) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "test.db"))
}

func mustUser(t *testing.T, s *Store, name, role string) int64 {
	t.Helper()
	u, err := s.CreateUser(context.Background(), NewUser{Username: name, DisplayName: name, Role: role, PasswordHash: "x"})
	if err != nil {
		t.Fatalf("CreateUser %s: %v", name, err)
	}
	return u.ID
}

func mustConv(t *testing.T, s *Store, name string, creator int64, members ...int64) int64 {
	t.Helper()
	c, err := s.CreateConversation(context.Background(), NewConversation{Name: name, Kind: model.KindGroup, CreatorID: creator, MemberIDs: members})
	if err != nil {
		t.Fatalf("CreateConversation %s: %v", name, err)
	}
	return c.ID
}

// fixture: an admin (member of nothing), an owner and a member of one group,
// an outsider, and a disabled account that was a member.
type fixture struct {
	s                                        *Store
	admin, owner, member, outsider, disabled int64
	conv                                     int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s := openTemp(t)
	f := &fixture{s: s}
	f.admin = mustUser(t, s, "prof", model.RoleAdmin)
	f.owner = mustUser(t, s, "olivia", model.RoleUser)
	f.member = mustUser(t, s, "max", model.RoleUser)
	f.outsider = mustUser(t, s, "otto", model.RoleUser)
	f.disabled = mustUser(t, s, "dora", model.RoleUser)
	f.conv = mustConv(t, s, "Group", f.owner, f.member, f.disabled)
	yes := true
	if _, err := s.UpdateUser(context.Background(), f.disabled, UserPatch{Disabled: &yes}); err != nil {
		t.Fatalf("disable: %v", err)
	}
	return f
}

func appendOne(t *testing.T, s *Store, ctx context.Context, a Append) AppendResult {
	t.Helper()
	res := s.AppendMessages(ctx, []Append{a})
	if len(res) != 1 {
		t.Fatalf("AppendMessages returned %d results for 1 message", len(res))
	}
	return res[0]
}

func queryInt(t *testing.T, db interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// checkContiguous asserts that conv's messages have seq 1..n with no gap or
// duplicate, that last_seq is n, and that no client_id of a sender appears twice.
// It returns the messages.
func checkContiguous(t *testing.T, s *Store, conv int64) []model.Message {
	t.Helper()
	var all []model.Message
	err := s.AllMessages(context.Background(), conv, func(m model.Message) error {
		all = append(all, m)
		return nil
	})
	if err != nil {
		t.Fatalf("AllMessages: %v", err)
	}
	seen := map[string]bool{}
	for i, m := range all {
		if m.Seq != int64(i+1) {
			t.Fatalf("conversation %d: message %d has seq %d, want %d (gap or duplicate)", conv, i, m.Seq, i+1)
		}
		if m.ClientID != "" {
			k := fmt.Sprintf("%d/%s", m.Sender.ID, m.ClientID)
			if seen[k] {
				t.Fatalf("client_id %s stored twice", k)
			}
			seen[k] = true
		}
	}
	c, err := s.Conversation(context.Background(), conv)
	if err != nil {
		t.Fatalf("Conversation: %v", err)
	}
	if c.LastSeq != int64(len(all)) {
		t.Fatalf("conversation %d: last_seq %d but %d messages", conv, c.LastSeq, len(all))
	}
	return all
}

// rawDB opens a second, independent handle on the same file (as another
// process such as the admin CLI would).
func rawDB(t *testing.T, path string, busyMS int) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)", path, busyMS))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// ---- Open, migrations, pragmas ----

func TestOpenAndMigrateTwiceIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	ctx := context.Background()
	s1, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	id := mustUser(t, s1, "ann", model.RoleUser)
	// A second store on the same file while the first is open (the CLI next to
	// the server) migrates nothing and sees the data.
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("second Open while the first is open: %v", err)
	}
	if u, err := s2.UserByID(ctx, id); err != nil || u.Username != "ann" {
		t.Fatalf("second store: %+v %v", u, err)
	}
	if err := s2.Close(); err != nil {
		t.Fatalf("close s2: %v", err)
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("close s1: %v", err)
	}
	s3 := openAt(t, path)
	if u, err := s3.UserByID(ctx, id); err != nil || u.Username != "ann" {
		t.Fatalf("after reopen: %+v %v", u, err)
	}
	// The newest migration's number (numbers may be reserved by a branch not merged yet).
	entries, _ := migrationFiles.ReadDir("migrations")
	var newest int64
	for _, e := range entries {
		n, _, _ := strings.Cut(e.Name(), "_")
		v, _ := strconv.ParseInt(n, 10, 64)
		newest = max(newest, v)
	}
	if v := queryInt(t, s3.w, "PRAGMA user_version"); v != newest {
		t.Fatalf("user_version %d, want %d", v, newest)
	}
	if n := queryInt(t, s3.r, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'messages'"); n != 1 {
		t.Fatalf("messages table count %d", n)
	}
	mustUser(t, s3, "ben", model.RoleUser) // still writable

	// A schema newer than the program is refused, not downgraded.
	if _, err := s3.w.Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	if s4, err := Open(ctx, path); err == nil {
		s4.Close()
		t.Fatal("Open accepted a database with a newer schema")
	}
}

func TestPragmasOnEveryPooledConnection(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.s, context.Background()

	check := func(name string, c *sql.Conn, readOnly bool) {
		t.Helper()
		want := map[string]int64{"foreign_keys": 1, "busy_timeout": 10000, "synchronous": 2}
		if readOnly {
			want["query_only"] = 1
		}
		for p, v := range want {
			if got := queryInt(t, c, "PRAGMA "+p); got != v {
				t.Errorf("%s: PRAGMA %s = %d, want %d", name, p, got, v)
			}
		}
		var mode string
		if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("%s: journal_mode %q %v", name, mode, err)
		}
	}
	// Hold every reader connection at once so each one is a distinct connection.
	var readers []*sql.Conn
	for i := range 4 {
		c, err := s.r.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		readers = append(readers, c)
		check(fmt.Sprintf("reader %d", i), c, true)
	}
	for _, c := range readers {
		c.Close()
	}
	w, err := s.w.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check("writer", w, false)
	// Throw the writer connection away: its replacement must get the pragmas too.
	_ = w.Raw(func(any) error { return driver.ErrBadConn })
	w.Close()
	w, err = s.w.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check("new writer", w, false)
	w.Close()

	// Deleting a conversation (on the replacement writer) leaves no orphans.
	for i := range 5 {
		if r := appendOne(t, s, ctx, Append{ConversationID: f.conv, SenderID: f.member, ClientID: fmt.Sprint("m", i), Body: "hi"}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if err := s.SetRead(ctx, f.owner, f.conv, 3); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, s.r, "SELECT count(*) FROM read_markers WHERE conversation_id = ?", f.conv); n != 2 {
		t.Fatalf("read markers before delete: %d, want 2", n)
	}
	if err := eraseConversation(ctx, s, f.conv); err != nil {
		t.Fatal(err)
	}
	for _, tbl := range []string{"conversation_members", "messages", "read_markers"} {
		if n := queryInt(t, s.r, "SELECT count(*) FROM "+tbl+" WHERE conversation_id NOT IN (SELECT id FROM conversations)"); n != 0 {
			t.Errorf("%d orphaned rows in %s after deleting the conversation", n, tbl)
		}
	}
	rows, err := s.r.Query("PRAGMA foreign_key_check")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if rows.Next() {
		t.Error("PRAGMA foreign_key_check reports violations")
	}
}

func TestWriterTransactionsBeginImmediate(t *testing.T) {
	// Pitfall "deferred transactions": a deferred BEGIN takes no lock, so a
	// later read→write upgrade gets SQLITE_BUSY at once, bypassing busy_timeout.
	// With _txlock=immediate the writer holds the write lock from BEGIN on.
	s := openTemp(t)
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	other := rawDB(t, s.path, 0)
	_, err = other.Exec("BEGIN IMMEDIATE")
	if err == nil {
		_, _ = other.Exec("ROLLBACK")
		t.Fatal("a second writer got BEGIN IMMEDIATE while the store's write transaction was open: the store's BEGIN is deferred")
	}
	if !errors.Is(mapErr(err), model.ErrUnavailable) {
		t.Fatalf("second writer: %v (want SQLITE_BUSY → ErrUnavailable)", err)
	}
}

// ---- AppendMessages ----

func TestAppendSeqGapFreeUnderConcurrentBatches(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.s, context.Background()
	conv2 := mustConv(t, s, "Second", f.member, f.owner)
	convs := []int64{f.conv, conv2}
	senders := []int64{f.owner, f.member, f.admin}
	const workers, batches, per = 8, 15, 8
	type got struct {
		conv, seq int64
		key       string
	}
	results := make(chan got, workers*batches*per)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for b := range batches {
				batch := make([]Append, per)
				for i := range batch {
					batch[i] = Append{
						ConversationID: convs[(w+b+i)%2], SenderID: senders[(w+i)%3],
						ClientID: fmt.Sprintf("w%d-b%d-i%d", w, b, i), Body: fmt.Sprintf("body %d/%d/%d", w, b, i),
					}
				}
				last := map[int64]int64{}
				for i, r := range s.AppendMessages(ctx, batch) {
					if r.Err != nil || !r.Created {
						t.Errorf("worker %d batch %d item %d: created=%v err=%v", w, b, i, r.Created, r.Err)
						continue
					}
					if r.Message.ConversationID != batch[i].ConversationID || r.Message.Body != batch[i].Body || r.Message.ClientID != batch[i].ClientID {
						t.Errorf("result %d does not match its append: %+v", i, r.Message)
					}
					if r.Message.Seq <= last[r.Message.ConversationID] {
						t.Errorf("seqs not increasing inside one batch: %d after %d", r.Message.Seq, last[r.Message.ConversationID])
					}
					last[r.Message.ConversationID] = r.Message.Seq
					results <- got{r.Message.ConversationID, r.Message.Seq, batch[i].ClientID}
				}
			}
		})
	}
	wg.Wait()
	close(results)
	bySeq := map[[2]int64]string{}
	for g := range results {
		k := [2]int64{g.conv, g.seq}
		if prev, dup := bySeq[k]; dup {
			t.Fatalf("conversation %d seq %d given to %s and %s", g.conv, g.seq, prev, g.key)
		}
		bySeq[k] = g.key
	}
	total := 0
	for _, c := range convs {
		ms := checkContiguous(t, s, c)
		total += len(ms)
		for _, m := range ms {
			if bySeq[[2]int64{c, m.Seq}] != m.ClientID {
				t.Fatalf("stored conv %d seq %d is %q, but it was acked as %q", c, m.Seq, m.ClientID, bySeq[[2]int64{c, m.Seq}])
			}
		}
	}
	if total != workers*batches*per {
		t.Fatalf("%d messages stored, want %d", total, workers*batches*per)
	}
}

func TestAppendClientIDDedupeAndConflict(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.s, context.Background()
	conv2 := mustConv(t, s, "Second", f.member)
	first := appendOne(t, s, ctx, Append{ConversationID: f.conv, SenderID: f.member, ClientID: "c1", Body: "hello"})
	if first.Err != nil || !first.Created || first.Message.Seq != 1 {
		t.Fatalf("first: %+v", first)
	}
	again := appendOne(t, s, ctx, Append{ConversationID: f.conv, SenderID: f.member, ClientID: "c1", Body: "hello"})
	if again.Err != nil || again.Created {
		t.Fatalf("resend: created=%v err=%v, want the stored message with Created=false", again.Created, again.Err)
	}
	if again.Message.ID != first.Message.ID || again.Message.Seq != 1 || again.Message.Body != "hello" ||
		again.Message.ClientID != "c1" || again.Message.Sender.ID != f.member || again.Message.ConversationID != f.conv {
		t.Fatalf("resend returned %+v, want %+v", again.Message, first.Message)
	}
	for name, a := range map[string]Append{
		"different body":         {ConversationID: f.conv, SenderID: f.member, ClientID: "c1", Body: "other"},
		"different conversation": {ConversationID: conv2, SenderID: f.member, ClientID: "c1", Body: "hello"},
	} {
		r := appendOne(t, s, ctx, a)
		if !errors.Is(r.Err, model.ErrConflict) || r.Created {
			t.Errorf("%s: created=%v err=%v, want ErrConflict", name, r.Created, r.Err)
		}
	}
	// client_id is scoped per sender.
	if r := appendOne(t, s, ctx, Append{ConversationID: f.conv, SenderID: f.owner, ClientID: "c1", Body: "hello"}); r.Err != nil || !r.Created || r.Message.Seq != 2 {
		t.Fatalf("other sender, same client_id: %+v", r)
	}
	// Duplicates inside one batch: one row, both results the same message.
	rs := s.AppendMessages(ctx, []Append{
		{ConversationID: f.conv, SenderID: f.member, ClientID: "c2", Body: "twice"},
		{ConversationID: f.conv, SenderID: f.member, ClientID: "c2", Body: "twice"},
		{ConversationID: f.conv, SenderID: f.member, ClientID: "c2", Body: "changed"},
	})
	if rs[0].Err != nil || !rs[0].Created || rs[1].Err != nil || rs[1].Created || rs[1].Message.ID != rs[0].Message.ID {
		t.Fatalf("duplicate in batch: %+v / %+v", rs[0], rs[1])
	}
	if !errors.Is(rs[2].Err, model.ErrConflict) {
		t.Fatalf("conflict in batch: %v", rs[2].Err)
	}
	// No client_id: never deduplicated.
	for range 2 {
		if r := appendOne(t, s, ctx, Append{ConversationID: f.conv, SenderID: f.member, Body: "anon"}); r.Err != nil || !r.Created {
			t.Fatalf("no client_id: %+v", r)
		}
	}
	ms := checkContiguous(t, s, f.conv)
	if len(ms) != 5 {
		t.Fatalf("%d messages stored, want 5 (c1, owner c1, c2, 2× no id)", len(ms))
	}
	if len(checkContiguous(t, s, conv2)) != 0 {
		t.Fatal("the conflicting append stored a message")
	}
}

func TestAppendAuthorization(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.s, context.Background()
	open := mustConv(t, s, "Open", f.owner, f.member)
	cases := []struct {
		name   string
		a      Append
		want   error // nil: stored
		locked bool
	}{
		{"member", Append{ConversationID: open, SenderID: f.member, Body: "x"}, nil, false},
		{"non-member", Append{ConversationID: open, SenderID: f.outsider, Body: "x"}, model.ErrNotFound, false},
		{"no such conversation", Append{ConversationID: 9999, SenderID: f.member, Body: "x"}, model.ErrNotFound, false},
		{"admin, not a member", Append{ConversationID: open, SenderID: f.admin, Body: "x"}, nil, false},
		{"disabled member", Append{ConversationID: open, SenderID: f.disabled, Body: "x"}, model.ErrUnauthorized, false},
		{"no such sender", Append{ConversationID: open, SenderID: 9999, Body: "x"}, model.ErrUnauthorized, false},
		{"locked: member", Append{ConversationID: f.conv, SenderID: f.member, Body: "x"}, model.ErrForbidden, true},
		{"locked: owner", Append{ConversationID: f.conv, SenderID: f.owner, Body: "x"}, nil, true},
		{"locked: admin", Append{ConversationID: f.conv, SenderID: f.admin, Body: "x"}, nil, true},
		{"locked: non-member", Append{ConversationID: f.conv, SenderID: f.outsider, Body: "x"}, model.ErrNotFound, true},
		{"locked: disabled", Append{ConversationID: f.conv, SenderID: f.disabled, Body: "x"}, model.ErrUnauthorized, true},
	}
	yes := true
	if _, err := s.UpdateConversation(ctx, f.conv, ConversationPatch{Locked: &yes}); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		r := appendOne(t, s, ctx, c.a)
		if c.want == nil {
			if r.Err != nil || !r.Created {
				t.Errorf("%s: created=%v err=%v, want stored", c.name, r.Created, r.Err)
			}
			continue
		}
		if !errors.Is(r.Err, c.want) || r.Created {
			t.Errorf("%s: created=%v err=%v, want %v", c.name, r.Created, r.Err, c.want)
		}
		var de *model.Error
		if !errors.As(r.Err, &de) {
			t.Errorf("%s: %v is not a model.Error with a client-safe message", c.name, r.Err)
		}
	}
	if n := len(checkContiguous(t, s, open)); n != 2 {
		t.Errorf("open conversation has %d messages, want 2", n)
	}
	if n := len(checkContiguous(t, s, f.conv)); n != 2 {
		t.Errorf("locked conversation has %d messages, want 2", n)
	}
	// An admin who is not a member gets no read marker (it would make a phantom membership).
	if n := queryInt(t, s.r, "SELECT count(*) FROM read_markers WHERE user_id = ?", f.admin); n != 0 {
		t.Errorf("admin has %d read markers without being a member", n)
	}
}

func TestAppendOneBadItemDoesNotFailTheBatch(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.s, context.Background()
	if r := appendOne(t, s, ctx, Append{ConversationID: f.conv, SenderID: f.member, ClientID: "used", Body: "a"}); r.Err != nil {
		t.Fatal(r.Err)
	}
	batch := []Append{
		{ConversationID: f.conv, SenderID: f.member, ClientID: "ok1", Body: "one"},
		{ConversationID: f.conv, SenderID: f.outsider, ClientID: "bad1", Body: "outsider"},
		{ConversationID: f.conv, SenderID: f.owner, ClientID: "ok2", Body: "two"},
		{ConversationID: f.conv, SenderID: f.disabled, ClientID: "bad2", Body: "disabled"},
		{ConversationID: f.conv, SenderID: f.member, ClientID: "used", Body: "conflict"},
		{ConversationID: 4242, SenderID: f.member, ClientID: "bad3", Body: "nowhere"},
		{ConversationID: f.conv, SenderID: f.member, ClientID: "ok3", Body: "three"},
	}
	rs := s.AppendMessages(ctx, batch)
	wantSeq := map[int]int64{0: 2, 2: 3, 6: 4}
	for i, r := range rs {
		if seq, ok := wantSeq[i]; ok {
			if r.Err != nil || !r.Created || r.Message.Seq != seq {
				t.Errorf("item %d: %+v, want stored with seq %d", i, r, seq)
			}
		} else if r.Err == nil {
			t.Errorf("item %d (%s) was accepted", i, batch[i].Body)
		}
	}
	ms := checkContiguous(t, s, f.conv)
	if len(ms) != 4 || ms[1].Body != "one" || ms[2].Body != "two" || ms[3].Body != "three" {
		t.Fatalf("stored %+v", ms)
	}
	// The member's read marker follows its own newest message.
	if n := queryInt(t, s.r, "SELECT seq FROM read_markers WHERE user_id = ? AND conversation_id = ?", f.member, f.conv); n != 4 {
		t.Errorf("member read marker %d, want 4", n)
	}
}

// ---- refresh tokens ----

func TestRotateRefresh(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.s, context.Background()
	exp := time.Now().Add(time.Hour).UnixMilli()
	ins := func(jti, fam string, exp int64) {
		t.Helper()
		if err := s.InsertRefresh(ctx, RefreshToken{JTI: jti, UserID: f.member, Family: fam, ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	ins("a", "fam1", exp)
	ins("other", "fam2", exp)
	next, err := s.RotateRefresh(ctx, "a", RefreshToken{JTI: "b", ExpiresAt: exp})
	if err != nil || next.Family != "fam1" || next.UserID != f.member || next.JTI != "b" {
		t.Fatalf("rotate a→b: %+v %v", next, err)
	}
	next, err = s.RotateRefresh(ctx, "b", RefreshToken{JTI: "c", ExpiresAt: exp})
	if err != nil || next.JTI != "c" {
		t.Fatalf("rotate b→c: %+v %v", next, err)
	}
	// Reusing a (revoked) revokes the whole family: c no longer rotates.
	if _, err := s.RotateRefresh(ctx, "a", RefreshToken{JTI: "x1", ExpiresAt: exp}); !errors.Is(err, model.ErrUnauthorized) {
		t.Fatalf("reuse of a: %v, want ErrUnauthorized", err)
	}
	if _, err := s.RotateRefresh(ctx, "c", RefreshToken{JTI: "x2", ExpiresAt: exp}); !errors.Is(err, model.ErrUnauthorized) {
		t.Fatalf("c after family revocation: %v, want ErrUnauthorized", err)
	}
	if n := queryInt(t, s.r, "SELECT count(*) FROM refresh_tokens WHERE family = 'fam1' AND revoked = 0"); n != 0 {
		t.Fatalf("%d live tokens left in the reused family", n)
	}
	if n := queryInt(t, s.r, "SELECT count(*) FROM refresh_tokens WHERE jti IN ('x1', 'x2')"); n != 0 {
		t.Fatal("a refused rotation stored its new token")
	}
	// Other families are untouched.
	if _, err := s.RotateRefresh(ctx, "other", RefreshToken{JTI: "other2", ExpiresAt: exp}); err != nil {
		t.Fatalf("other family: %v", err)
	}
	// Unknown and expired tokens.
	if _, err := s.RotateRefresh(ctx, "nope", RefreshToken{JTI: "n2", ExpiresAt: exp}); !errors.Is(err, model.ErrUnauthorized) {
		t.Fatalf("unknown: %v", err)
	}
	ins("old", "fam3", time.Now().Add(-time.Minute).UnixMilli())
	if _, err := s.RotateRefresh(ctx, "old", RefreshToken{JTI: "old2", ExpiresAt: exp}); !errors.Is(err, model.ErrUnauthorized) {
		t.Fatalf("expired: %v", err)
	}
}

func TestRotateRefreshConcurrentExactlyOneWins(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.s, context.Background()
	exp := time.Now().Add(time.Hour).UnixMilli()
	for round := range 20 {
		jti := fmt.Sprintf("r%d", round)
		if err := s.InsertRefresh(ctx, RefreshToken{JTI: jti, UserID: f.member, Family: "fam" + jti, ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() {
				<-start
				_, errs[i] = s.RotateRefresh(ctx, jti, RefreshToken{JTI: fmt.Sprintf("%s-next%d", jti, i), ExpiresAt: exp})
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else if !errors.Is(err, model.ErrUnauthorized) {
				t.Fatalf("round %d: loser got %v, want ErrUnauthorized", round, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d rotations of the same token succeeded (%v), want exactly 1", round, wins, errs)
		}
	}
}

// ---- F5: cancelled contexts ----

// noOpenWriteTx asserts that nobody holds the database's write lock: another
// handle with busy_timeout 0 gets BEGIN IMMEDIATE at once.
func noOpenWriteTx(t *testing.T, path string) {
	t.Helper()
	other := rawDB(t, path, 0)
	if _, err := other.Exec("BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("write lock still held after the writes returned (half-open transaction?): %v", err)
	}
	if _, err := other.Exec("ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	other.Close()
}

func TestWritesSurviveCancelledContext(t *testing.T) {
	f := newFixture(t)
	s := f.s
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	// Already cancelled: every write still commits.
	u, err := s.CreateUser(cancelled, NewUser{Username: "late", DisplayName: "Late", Role: model.RoleUser})
	if err != nil {
		t.Fatalf("CreateUser with a cancelled context: %v", err)
	}
	if _, err := s.AddMember(context.Background(), f.conv, u.ID, model.MemberMember); err != nil {
		t.Fatal(err)
	}
	if r := appendOne(t, s, cancelled, Append{ConversationID: f.conv, SenderID: u.ID, ClientID: "k0", Body: "hi"}); r.Err != nil || !r.Created {
		t.Fatalf("AppendMessages with a cancelled context: %+v", r)
	}
	if err := s.SetRead(cancelled, f.owner, f.conv, 1); err != nil {
		t.Fatalf("SetRead with a cancelled context: %v", err)
	}
	if err := s.PutSettings(cancelled, map[string]string{"name": "Cancelled"}); err != nil {
		t.Fatalf("PutSettings with a cancelled context: %v", err)
	}
	if got, err := s.UserByID(context.Background(), u.ID); err != nil || got.Username != "late" {
		t.Fatalf("user written with a cancelled context is missing: %v", err)
	}

	// Cancelled at random points while the write runs (from before it starts
	// to after it ends, scaled to how long one write takes here), in a loop.
	rng := rand.New(rand.NewPCG(1, 2))
	const rounds = 80
	start := time.Now()
	if err := s.SetRead(context.Background(), f.member, f.conv, 1); err != nil {
		t.Fatal(err)
	}
	wspan := 4 * time.Since(start)
	for i := range rounds {
		ctx, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(time.Duration(rng.Int64N(int64(wspan))), cancel)
		r := s.AppendMessages(ctx, []Append{
			{ConversationID: f.conv, SenderID: f.member, ClientID: fmt.Sprint("c", i), Body: fmt.Sprint("msg ", i)},
			{ConversationID: f.conv, SenderID: f.owner, ClientID: fmt.Sprint("c", i), Body: fmt.Sprint("msg ", i)},
		})
		for _, x := range r {
			if x.Err != nil || !x.Created {
				t.Fatalf("round %d: append with a context cancelled mid-flight: %+v", i, x)
			}
		}
		if err := s.SetRead(ctx, f.owner, f.conv, int64(2*i+1)); err != nil {
			t.Fatalf("round %d: SetRead: %v", i, err)
		}
		timer.Stop()
		cancel()
	}
	ms := checkContiguous(t, s, f.conv)
	if len(ms) != 1+2*rounds {
		t.Fatalf("%d messages, want %d", len(ms), 1+2*rounds)
	}
	if n := queryInt(t, s.r, "SELECT seq FROM read_markers WHERE user_id = ? AND conversation_id = ?", f.owner, f.conv); n != int64(1+2*rounds) {
		t.Fatalf("owner read marker %d, want %d", n, 1+2*rounds)
	}

	// Reads cancelled mid-flight may fail themselves, but must not poison the
	// pooled reader connections (no sticky "interrupted (9)"). The cancel
	// lands anywhere from before the read to after it.
	start = time.Now()
	if _, err := s.MessagesAfter(context.Background(), f.conv, 0, 200); err != nil {
		t.Fatal(err)
	}
	span := 2 * time.Since(start)
	failedReads := 0
	for range rounds {
		ctx, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(time.Duration(rng.Int64N(int64(span))), cancel)
		if _, err := s.MessagesAfter(ctx, f.conv, 0, 200); err != nil {
			failedReads++
		}
		timer.Stop()
		cancel()
	}
	t.Logf("%d of %d reads were cancelled", failedReads, rounds)

	// Afterwards everything works: no interrupted connection, no open
	// transaction, no SQLITE_BUSY.
	noOpenWriteTx(t, s.path)
	var wg sync.WaitGroup
	for i := range 8 { // more than the reader pool, so every reader connection is used
		wg.Go(func() {
			p, err := s.MessagesAfter(context.Background(), f.conv, 0, 1000)
			if err != nil || len(p.Messages) != 1+2*rounds {
				t.Errorf("read %d after cancellations: %d messages, %v", i, len(p.Messages), err)
			}
		})
	}
	wg.Wait()
	var held []*sql.Conn // every pooled reader connection at once
	for range 4 {
		c, err := s.r.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		if n := queryInt(t, c, "SELECT count(*) FROM messages WHERE conversation_id = ?", f.conv); n != 1+2*rounds {
			t.Fatalf("reader connection after cancellations: %d messages", n)
		}
	}
	for _, c := range held {
		c.Close()
	}
	if r := appendOne(t, s, context.Background(), Append{ConversationID: f.conv, SenderID: f.member, ClientID: "after", Body: "after"}); r.Err != nil || r.Message.Seq != int64(2+2*rounds) {
		t.Fatalf("write after cancellations: %+v", r)
	}
	if _, err := s.CreateUser(context.Background(), NewUser{Username: "after", DisplayName: "After", Role: model.RoleUser}); err != nil {
		t.Fatalf("CreateUser after cancellations: %v", err)
	}
	noOpenWriteTx(t, s.path)
}

// ---- F4: SQLITE_BUSY from a second writer ----

func TestAppendWaitsForAnotherWriter(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.s, context.Background()
	other := rawDB(t, s.path, 10000)
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO settings (key, value) VALUES ('cli', 'was here')"); err != nil {
		t.Fatal(err)
	}
	batch := make([]Append, 20)
	for i := range batch {
		batch[i] = Append{ConversationID: f.conv, SenderID: f.member, ClientID: fmt.Sprint("b", i), Body: fmt.Sprint("burst ", i)}
	}
	done := make(chan []AppendResult, 1)
	go func() { done <- s.AppendMessages(ctx, batch) }()

	// Readers are not blocked by the other writer (WAL).
	if _, err := s.MessagesAfter(ctx, f.conv, 0, 10); err != nil {
		t.Fatalf("read while another writer holds the lock: %v", err)
	}
	time.Sleep(1500 * time.Millisecond) // hold the write lock, like a CLI or backup would
	select {
	case r := <-done:
		t.Fatalf("append finished while another connection held BEGIN IMMEDIATE: %+v", r[0])
	default:
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	select {
	case rs := <-done:
		for i, r := range rs {
			if r.Err != nil || !r.Created || r.Message.Seq != int64(i+1) {
				t.Fatalf("item %d after waiting: %+v", i, r)
			}
		}
	case <-time.After(15 * time.Second):
		t.Fatal("append did not finish after the other writer committed")
	}
	if n := len(checkContiguous(t, s, f.conv)); n != len(batch) {
		t.Fatalf("%d messages, want %d", n, len(batch))
	}
	kv, err := s.Settings(ctx)
	if err != nil || kv["cli"] != "was here" {
		t.Fatalf("the other writer's commit is lost: %v %v", kv, err)
	}
}

// ---- backup ----

func TestBackupDuringAppendsIsConsistent(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.s, context.Background()
	const per = 5
	stop := make(chan struct{})
	progress := make(chan int, 1000)
	appended := make(chan int, 1)
	go func() {
		n := 0
		defer func() { appended <- n }()
		for b := 0; ; b++ {
			select {
			case <-stop:
				return
			default:
			}
			batch := make([]Append, per)
			for i := range batch {
				batch[i] = Append{ConversationID: f.conv, SenderID: f.member, ClientID: fmt.Sprintf("%d-%d", b, i), Body: fmt.Sprintf("batch %d item %d", b, i)}
			}
			for _, r := range s.AppendMessages(ctx, batch) {
				if r.Err != nil {
					t.Errorf("append during backup: %v", r.Err)
					return
				}
			}
			n += per
			select {
			case progress <- n:
			default:
			}
		}
	}()
	waitFor := func(min int) int {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case n := <-progress:
				if n >= min {
					return n
				}
			case <-deadline:
				t.Fatalf("fewer than %d messages appended within 20 s", min)
			}
		}
	}
	dir := t.TempDir()
	type snap struct {
		path      string
		committed int // messages committed before the backup started
	}
	var snaps []snap
	for i := range 3 {
		n := waitFor(50 * (i + 1))
		p := filepath.Join(dir, fmt.Sprintf("backup%d.db", i))
		if err := s.Backup(ctx, p); err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		snaps = append(snaps, snap{p, n})
	}
	close(stop)
	total := <-appended
	orig := checkContiguous(t, s, f.conv)
	if len(orig) != total {
		t.Fatalf("%d messages stored, %d appended", len(orig), total)
	}
	for i, sn := range snaps {
		db := rawDB(t, sn.path, 1000)
		var ok string
		if err := db.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
			t.Fatalf("backup %d: integrity_check %q %v", i, ok, err)
		}
		rows, err := db.Query("SELECT seq, body FROM messages WHERE conversation_id = ? ORDER BY seq", f.conv)
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for rows.Next() {
			var seq int64
			var body string
			if err := rows.Scan(&seq, &body); err != nil {
				t.Fatal(err)
			}
			if seq != int64(k+1) || k >= len(orig) || orig[k].Body != body {
				t.Fatalf("backup %d: row %d is seq %d %q: not a prefix of the live messages", i, k, seq, body)
			}
			k++
		}
		rows.Close()
		if k < sn.committed || k%per != 0 {
			t.Fatalf("backup %d has %d messages; %d were committed before it started, batches are %d", i, k, sn.committed, per)
		}
		if last := queryInt(t, db, "SELECT last_seq FROM conversations WHERE id = ?", f.conv); last != int64(k) {
			t.Fatalf("backup %d: last_seq %d with %d messages", i, last, k)
		}
		db.Close()
		// A backup is a database Open accepts.
		bs, err := Open(ctx, sn.path)
		if err != nil {
			t.Fatalf("Open backup %d: %v", i, err)
		}
		bs.Close()
	}
	// Backup refuses to overwrite an existing file.
	if err := s.Backup(ctx, snaps[0].path); err == nil {
		t.Fatal("Backup overwrote an existing file")
	}
}

// ---- F12: corrupt files ----

func TestOpenRefusesCorruptFiles(t *testing.T) {
	// A real database with some data, checkpointed into the main file.
	good := filepath.Join(t.TempDir(), "good.db")
	{
		s, err := Open(context.Background(), good)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 40 {
			mustUser(t, s, fmt.Sprintf("user%02d", i), model.RoleUser)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 4*4096 {
		t.Fatalf("test database unexpectedly small: %d bytes", len(data))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	garbage := make([]byte, 16<<10)
	for i := range garbage {
		garbage[i] = byte(rng.IntN(256))
	}
	flip := func(offsets ...int) []byte {
		d := append([]byte(nil), data...)
		for _, o := range offsets {
			for i := o; i < o+16 && i < len(d); i++ {
				d[i] ^= 0xFF
			}
		}
		return d
	}
	var pageHeaders []int
	for p := 4096; p < len(data); p += 4096 {
		pageHeaders = append(pageHeaders, p)
	}
	cases := map[string][]byte{
		"zeros":              make([]byte, 16<<10),
		"garbage":            garbage,
		"magic flipped":      flip(0),
		"schema page":        flip(100, 200, 300),
		"every b-tree page":  flip(pageHeaders...),
		"text file":          []byte("this is not a database, it is a shopping list\n"),
		"truncated in half":  data[:len(data)/2],
		"second page zeroed": append(append(append([]byte(nil), data[:4096]...), make([]byte, 4096)...), data[8192:]...),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.db")
			if err := os.WriteFile(p, content, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(context.Background(), p)
			if err == nil {
				s.Close()
				t.Fatal("Open accepted a corrupt file")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: %v, want an error wrapping ErrCorrupt", err)
			}
			t.Logf("refused: %v", err)
		})
	}
	// The intact file still opens.
	s := openAt(t, good)
	if n := queryInt(t, s.r, "SELECT count(*) FROM users"); n != 40 {
		t.Fatalf("%d users in the intact copy", n)
	}
}
