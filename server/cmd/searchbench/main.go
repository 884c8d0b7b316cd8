// Command searchbench measures full-text search over a large class history:
// it builds a real Team Chat database (the project's migrations, FTS5 index
// and triggers) with -messages messages, then times store.Search for typical
// queries as an admin (every conversation) and as a student (their own).
//
//	go run ./server/cmd/searchbench -messages 1000000   (make bench runs it)
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	_ "modernc.org/sqlite"

	"teamchat/server/store"
)

// words are what classroom chat is made of; the Zipf draw makes the first
// ones common and the last ones rare.
var words = strings.Fields(`the a to is and of in it you for on that this with be have do not are can we
lecture question answer exercise homework quiz exam notes slide chapter problem solution group project deadline
today tomorrow week thanks please help understand example function proof theorem lemma matrix vector integral
derivative equation graph node edge tree sort search hash table database query index transaction commit
professor student teacher lab room library report draft review grade feedback python java rust golang compiler
kernel thread process memory cache network packet router socket protocol latency throughput bandwidth
café naïve résumé München 東京 δ ε λ σ`)

func main() {
	n := flag.Int("messages", 1_000_000, "messages to store")
	dir := flag.String("data", "bin/bench-data/search", "directory for the database (on the disk to measure)")
	runs := flag.Int("runs", 20, "runs of each query")
	flag.Parse()
	if err := run(*n, *dir, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "searchbench:", err)
		os.Exit(1)
	}
}

func run(n int, dir string, runs int) error {
	ctx := context.Background()
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(dir, "teamchat.db")
	st, err := store.Open(ctx, path) // creates the schema with every migration
	if err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	start := time.Now()
	student, convs, err := seed(path, n)
	if err != nil {
		return err
	}
	took := time.Since(start)
	fi, _ := os.Stat(path)
	fmt.Printf("seeded %d messages in %d conversations in %s (%.0f messages/s); database %.0f MiB\n",
		n, convs, took.Round(time.Second), float64(n)/took.Seconds(), float64(fi.Size())/(1<<20))

	start = time.Now()
	st, err = store.Open(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	// The full-text index follows the messages behind the commit: time the
	// searches on a complete index.
	if err := st.WaitIndexed(ctx); err != nil {
		return err
	}
	took = time.Since(start)
	fmt.Printf("indexed them in %s (%.0f messages/s)\n", took.Round(time.Second), float64(n)/took.Seconds())
	type query struct {
		name string
		q    store.SearchQuery
	}
	admin := func(text string) store.SearchQuery {
		return store.SearchQuery{Text: text, UserID: 1, Admin: true, Limit: 30}
	}
	stu := func(text string) store.SearchQuery { return store.SearchQuery{Text: text, UserID: student, Limit: 30} }
	inConv := stu("lecture")
	inConv.ConversationID = 2
	bySender := admin("exam")
	bySender.SenderID = student
	lastWeek := admin("homework deadline")
	lastWeek.After = time.Now().Add(-7 * 24 * time.Hour).UnixMilli()
	queries := []query{
		{"common word, admin (all conversations)", admin("the")},
		{"common word, student (own conversations)", stu("the")},
		{"frequent word, admin", admin("lecture")},
		{"two words (AND), admin", admin("homework deadline")},
		{"phrase, student", stu(`"graph node"`)},
		{"prefix (last word), admin", admin("transac")},
		{"rare word, admin", admin("東京")},
		{"accent-folded (cafe → café), admin", admin("cafe")},
		{"conversation filter, student", inConv},
		{"sender filter, admin", bySender},
		{"date filter (last 7 days), admin", lastWeek},
		{"no match, admin", admin("xylophone")},
		{"operators typed by a user, admin", admin(`NOT (x OR y) AND "z`)},
		{"page 10 (offset 270), admin", store.SearchQuery{Text: "lecture", UserID: 1, Admin: true, Limit: 30, Offset: 270}},
	}
	fmt.Printf("\n%-45s %8s %8s %8s %8s\n", "query (30 results per page)", "results", "p50 ms", "p95 ms", "max ms")
	for _, q := range queries {
		var times []float64
		var got int
		for i := 0; i < runs; i++ {
			t0 := time.Now()
			page, err := st.Search(ctx, q.q)
			if err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			times = append(times, float64(time.Since(t0).Microseconds())/1000)
			got = len(page.Results)
		}
		slices.Sort(times)
		fmt.Printf("%-45s %8d %8.1f %8.1f %8.1f\n", q.name, got, times[len(times)/2], times[len(times)*95/100], times[len(times)-1])
	}
	return nil
}

// seed writes users, conversations and n messages straight into the
// database (through the FTS triggers), in transactions of 20,000 rows.
// Message times spread over the last 120 days. It returns a student's id.
func seed(path string, n int) (int64, int, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)")
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	const students, convs = 40, 60
	now := time.Now().UnixMilli()
	tx, err := db.Begin()
	if err != nil {
		return 0, 0, err
	}
	if _, err := tx.Exec(`INSERT INTO users (id, username, display_name, role, created_at) VALUES (1, 'prof', 'Prof', 'admin', ?)`, now); err != nil {
		return 0, 0, err
	}
	for i := 2; i <= students+1; i++ {
		if _, err := tx.Exec(`INSERT INTO users (id, username, display_name, role, created_at) VALUES (?, ?, ?, 'user', ?)`,
			i, fmt.Sprintf("s%d", i), fmt.Sprintf("Student %d", i), now); err != nil {
			return 0, 0, err
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	members := map[int][]int64{}
	for c := 1; c <= convs; c++ {
		if _, err := tx.Exec(`INSERT INTO conversations (id, name, kind, created_at) VALUES (?, ?, 'group', ?)`, c, fmt.Sprintf("Group %d", c), now); err != nil {
			return 0, 0, err
		}
		// Each student is in about six groups; student 2 is in groups 1–6.
		for s := 2; s <= students+1; s++ {
			if (s == 2 && c <= 6) || (s != 2 && r.IntN(10) == 0) {
				if _, err := tx.Exec(`INSERT INTO conversation_members (conversation_id, user_id, role, joined_at) VALUES (?, ?, 'member', ?)`, c, s, now); err != nil {
					return 0, 0, err
				}
				members[c] = append(members[c], int64(s))
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, err
	}
	zipf := rand.NewZipf(r, 1.1, 2, uint64(len(words)-1))
	seqs := make([]int64, convs+1)
	span := int64(120 * 24 * time.Hour / time.Millisecond)
	var sb strings.Builder
	for done := 0; done < n; {
		tx, err := db.Begin()
		if err != nil {
			return 0, 0, err
		}
		ins, err := tx.Prepare(`INSERT INTO messages (conversation_id, seq, sender_id, body, created_at) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return 0, 0, err
		}
		for i := 0; i < 20_000 && done < n; i, done = i+1, done+1 {
			c := 1 + r.IntN(convs)
			sender := int64(1)
			if ms := members[c]; len(ms) > 0 && r.IntN(8) != 0 {
				sender = ms[r.IntN(len(ms))]
			}
			sb.Reset()
			for w := 4 + r.IntN(16); w > 0; w-- {
				sb.WriteString(words[zipf.Uint64()])
				sb.WriteByte(' ')
			}
			seqs[c]++
			at := now - span + int64(done)*span/int64(n)
			if _, err := ins.Exec(c, seqs[c], sender, strings.TrimSpace(sb.String()), at); err != nil {
				return 0, 0, err
			}
		}
		ins.Close()
		if err := tx.Commit(); err != nil {
			return 0, 0, err
		}
	}
	for c := 1; c <= convs; c++ {
		if _, err := db.Exec(`UPDATE conversations SET last_seq = ? WHERE id = ?`, seqs[c], c); err != nil {
			return 0, 0, err
		}
	}
	_, err = db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return 2, convs, err
}
