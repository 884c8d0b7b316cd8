package api_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"teamchat/server"
	"teamchat/server/model"
	"teamchat/server/servertest"
	"teamchat/server/store"
)

// mountTmpfs mounts a tmpfs of the given size on a fresh directory and
// unmounts it when the test ends. It needs root; without it the test fails
// with the reason rather than skipping silently.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("F3 (disk full) mounts a tmpfs and must run as root (euid %d); run this test as root", os.Geteuid())
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("F3 (disk full) needs a small tmpfs: mount -t tmpfs -o size=%s tmpfs %s: %v: %s", size, dir, err, out)
	}
	// Registered after t.TempDir, so it runs before the directory is removed,
	// and after the server (started later) is stopped.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			_ = exec.Command("umount", "-l", dir).Run()
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// allMessages reads a conversation through REST, oldest first.
func allMessages(t *testing.T, c *servertest.Client, conv int64) []model.Message {
	t.Helper()
	var all []model.Message
	after := int64(0)
	for {
		var page store.MessagePage
		c.Must(200, "GET", fmt.Sprintf("/api/v1/conversations/%d/messages?after_seq=%d&limit=200", conv, after), nil).Decode(t, &page)
		all = append(all, page.Messages...)
		if len(page.Messages) > 0 {
			after = page.Messages[len(page.Messages)-1].Seq
		}
		if !page.HasMore {
			return all
		}
	}
}

// checkHistory asserts seq 1..n without gap or duplicate, that every acked
// client_id is stored exactly once at its acked seq, and that client_ids in
// absent are not stored at all. It returns client_id → seq.
func checkHistory(t *testing.T, ms []model.Message, acked map[string]int64, absent map[string]bool) map[string]int64 {
	t.Helper()
	stored := map[string]int64{}
	for i, m := range ms {
		if m.Seq != int64(i+1) {
			t.Fatalf("message %d has seq %d, want %d (gap or duplicate)", i, m.Seq, i+1)
		}
		if m.ClientID == "" {
			continue
		}
		if _, dup := stored[m.ClientID]; dup {
			t.Fatalf("client_id %q stored twice", m.ClientID)
		}
		stored[m.ClientID] = m.Seq
	}
	for cid, seq := range acked {
		got, ok := stored[cid]
		if !ok {
			t.Fatalf("acked message %q (seq %d) is not stored", cid, seq)
		}
		if got != seq {
			t.Fatalf("acked message %q was acked with seq %d but is stored at %d", cid, seq, got)
		}
	}
	for cid := range absent {
		if _, ok := stored[cid]; ok {
			t.Fatalf("message %q was refused (no ack) but is stored", cid)
		}
	}
	return stored
}

// sendAndWait sends one message over the socket and returns its ack or error
// frame; message, presence and activity frames are skipped.
func sendAndWait(t *testing.T, ws *servertest.WS, conv int64, cid, body string) servertest.Frame {
	t.Helper()
	ws.Send(send(conv, cid, body))
	for {
		f := ws.Next()
		switch f.Type() {
		case "ack", "error":
			if f["client_id"] != cid {
				t.Fatalf("sent %q, got %v", cid, f)
			}
			return f
		case "message", "presence", "activity", "typing":
		default:
			t.Fatalf("unexpected frame %v while waiting for the ack of %q", f, cid)
		}
	}
}

// TestDiskFull is THREATS F3: the database lives on a tiny tmpfs that fills up.
func TestDiskFull(t *testing.T) {
	dir := mountTmpfs(t, "4m")
	env := servertest.StartIn(t, dir)
	// A filler file, deleted later to free space.
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 1536<<10), 0o600); err != nil {
		t.Fatalf("filler: %v", err)
	}
	env.AddUser("prof", "admin")
	ann := env.AddUser("ann", "user")
	ben := env.AddUser("ben", "user")
	ws := ann.DialWS()
	watcher := ben.DialWS()
	watcher.Send(map[string]any{"type": "subscribe", "conversation_id": 1})
	watcher.Expect("subscribed")

	rng := rand.New(rand.NewPCG(7, 8))
	body := func() string {
		b := make([]byte, 3000)
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		return string(b)
	}
	acked := map[string]int64{}
	failed := map[string]bool{}
	var firstFail string
	for i := 0; firstFail == ""; i++ {
		if i == 5000 {
			t.Fatalf("the disk never filled: %d messages acked", len(acked))
		}
		cid := fmt.Sprintf("fill-%d", i)
		f := sendAndWait(t, ws, 1, cid, body())
		switch f.Type() {
		case "ack":
			if f.Seq() != int64(len(acked)+1) {
				t.Fatalf("ack of %q has seq %d, want %d", cid, f.Seq(), len(acked)+1)
			}
			acked[cid] = f.Seq()
		case "error":
			if f["code"] != "unavailable" {
				t.Fatalf("send on a full disk: %v, want code unavailable", f)
			}
			failed[cid] = true
			firstFail = cid
		}
	}
	if len(acked) == 0 {
		t.Fatal("the first message already failed: the tmpfs is too small for the test")
	}
	t.Logf("disk full after %d acked messages", len(acked))
	lastSeq := int64(len(acked))

	// While full: every send fails with an error and never an ack.
	for i := range 3 {
		cid := fmt.Sprintf("full-ws-%d", i)
		if f := sendAndWait(t, ws, 1, cid, body()); f.Type() != "error" || f["code"] != "unavailable" {
			t.Fatalf("WS send while the disk is full: %v, want an unavailable error", f)
		}
		failed[cid] = true
	}
	for i := range 3 {
		cid := fmt.Sprintf("full-rest-%d", i)
		r := ann.Do("POST", "/api/v1/conversations/1/messages", map[string]any{"client_id": cid, "body": body()})
		if r.Status != http.StatusServiceUnavailable || r.ErrCode() != "unavailable" {
			t.Fatalf("REST send while the disk is full: %d %s, want 503 unavailable", r.Status, r.Body)
		}
		failed[cid] = true
	}
	// Other writes fail cleanly too: 503 (or an error frame), never a 500.
	for _, w := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/conversations", map[string]any{"name": strings.Repeat("n", 60)}},
		{"POST", "/api/v1/auth/token", map[string]any{"username": "ann", "password": servertest.Password}},
	} {
		r := ann.Do(w.method, w.path, w.body)
		if r.Status >= 500 && (r.Status != http.StatusServiceUnavailable || r.ErrCode() != "unavailable") {
			t.Errorf("%s %s while the disk is full: %d %s, want 503 unavailable", w.method, w.path, r.Status, r.Body)
		}
	}
	// Reads keep working, over REST and WebSocket, and the server is alive.
	ann.Must(200, "GET", "/api/v1/me", nil)
	ann.Must(200, "GET", "/api/v1/conversations", nil)
	checkHistory(t, allMessages(t, ann, 1), acked, failed)
	ws.Send(map[string]any{"type": "subscribe", "conversation_id": 1, "after_seq": lastSeq})
	if f := ws.Expect("subscribed"); f.Int("last_seq") != lastSeq {
		t.Fatalf("subscribed while full: %v, want last_seq %d", f, lastSeq)
	}
	// The watcher saw exactly the acked messages, in order.
	for want := int64(1); want <= lastSeq; want++ {
		if f := watcher.Expect("message"); f.Seq() != want {
			t.Fatalf("watcher got seq %d, want %d", f.Seq(), want)
		}
	}

	// Free space: writes resume without a restart. The first refused message
	// is resent with its client_id, as a client does with unacked messages.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if f := sendAndWait(t, ws, 1, firstFail, "resent after the disk was freed"); f.Type() != "ack" || f.Seq() != lastSeq+1 {
		t.Fatalf("resend after freeing space: %v, want an ack with seq %d", f, lastSeq+1)
	}
	acked[firstFail] = lastSeq + 1
	delete(failed, firstFail)
	for i := range 5 {
		cid := fmt.Sprintf("after-%d", i)
		f := sendAndWait(t, ws, 1, cid, "short")
		if f.Type() != "ack" {
			t.Fatalf("send after freeing space: %v", f)
		}
		acked[cid] = f.Seq()
	}
	r := ann.Must(201, "POST", "/api/v1/conversations/1/messages", map[string]any{"client_id": "after-rest", "body": "rest"})
	var m model.Message
	r.Decode(t, &m)
	acked["after-rest"] = m.Seq
	ms := allMessages(t, ann, 1)
	checkHistory(t, ms, acked, failed)
	if len(ms) != len(acked) {
		t.Fatalf("%d messages stored, %d acked", len(ms), len(acked))
	}
	for want := lastSeq + 1; want <= int64(len(ms)); want++ {
		if f := watcher.Expect("message"); f.Seq() != want {
			t.Fatalf("watcher got seq %d after the disk was freed, want %d", f.Seq(), want)
		}
	}

	// No corruption: after a clean shutdown the file passes the store's check
	// and holds exactly what was acked.
	env.Stop()
	st, err := store.Open(context.Background(), filepath.Join(dir, server.DBFile))
	if err != nil {
		t.Fatalf("reopen after disk full: %v", err)
	}
	defer st.Close()
	var n int
	if err := st.AllMessages(context.Background(), 1, func(model.Message) error { n++; return nil }); err != nil || n != len(acked) {
		t.Fatalf("after reopen: %d messages (%v), want %d", n, err, len(acked))
	}
}

// TestRequestsCancelledMidWrite is THREATS F5 through HTTP and WebSocket:
// clients hang up right after sending, in a loop.
func TestRequestsCancelledMidWrite(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	ann := env.AddUser("ann", "user")
	url := env.URL + "/api/v1/conversations/1/messages"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer hc.CloseIdleConnections()

	const workers, each = 4, 40
	var (
		mu   sync.Mutex
		sent []string
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			for i := range each {
				cid := fmt.Sprintf("w%d-%d", w, i)
				body, _ := json.Marshal(map[string]any{"client_id": cid, "body": "cancelled " + cid})
				ctx, cancel := context.WithCancel(context.Background())
				if i%2 == 0 {
					// Hang up as soon as the request is on the wire.
					ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
						WroteRequest: func(httptrace.WroteRequestInfo) { cancel() },
					})
				} else {
					// Hang up at a random moment.
					time.AfterFunc(time.Duration(rng.IntN(2000))*time.Microsecond, cancel)
				}
				req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					cancel()
					return
				}
				req.Header.Set("Authorization", "Bearer "+ann.Token)
				req.Header.Set("Content-Type", "application/json")
				// A read cancelled at a random moment, too (pitfall: a cancelled
				// query must not leave its pooled connection "interrupted").
				rctx, rcancel := context.WithCancel(context.Background())
				time.AfterFunc(time.Duration(rng.IntN(1000))*time.Microsecond, rcancel)
				if rreq, err := http.NewRequestWithContext(rctx, "GET", url+"?after_seq=0&limit=200", nil); err == nil {
					rreq.Header.Set("Authorization", "Bearer "+ann.Token)
					if rres, err := hc.Do(rreq); err == nil {
						rres.Body.Close()
					}
				}
				rcancel()
				res, err := hc.Do(req)
				if err == nil {
					if res.StatusCode != 201 {
						t.Errorf("%s answered %d", cid, res.StatusCode)
					}
					res.Body.Close()
				}
				cancel()
				mu.Lock()
				sent = append(sent, cid)
				mu.Unlock()
			}
		})
	}
	// WebSocket clients that send and close at once.
	for i := range 20 {
		ws := ann.DialWS()
		cid := fmt.Sprintf("ws-%d", i)
		ws.Send(send(1, cid, "cancelled "+cid))
		ws.Close()
		mu.Lock()
		sent = append(sent, cid)
		mu.Unlock()
	}
	wg.Wait()

	// The server answers normally. Resending every client_id (what a client
	// does with unacked messages) stores each exactly once, whether or not the
	// cancelled request had committed.
	ann.Must(200, "GET", "/api/v1/me", nil)
	acked := map[string]int64{}
	for _, cid := range sent {
		r := ann.Do("POST", "/api/v1/conversations/1/messages", map[string]any{"client_id": cid, "body": "cancelled " + cid})
		if r.Status != 200 && r.Status != 201 {
			t.Fatalf("resend %s after cancellations: %d %s", cid, r.Status, r.Body)
		}
		var m model.Message
		r.Decode(t, &m)
		acked[cid] = m.Seq
	}
	r := ann.Must(201, "POST", "/api/v1/conversations/1/messages", map[string]any{"client_id": "final", "body": "final"})
	var m model.Message
	r.Decode(t, &m)
	if m.Seq != int64(len(sent)+1) {
		t.Fatalf("final message seq %d, want %d", m.Seq, len(sent)+1)
	}
	acked["final"] = m.Seq
	ms := allMessages(t, ann, 1)
	checkHistory(t, ms, acked, nil)
	if len(ms) != len(sent)+1 {
		t.Fatalf("%d messages stored, want %d", len(ms), len(sent)+1)
	}
	// Other writes work too (no sticky interrupted connection, no open transaction).
	ann.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "after the storm"})
	if logs := env.Logs(); strings.Contains(logs, "interrupted") || strings.Contains(logs, "storing messages failed") ||
		strings.Contains(logs, "SQLITE_BUSY") || strings.Contains(logs, "database is locked") {
		t.Fatalf("server logged storage failures after cancelled requests:\n%s", logs)
	}
}

// TestBusyDatabaseDuringBurst is THREATS F4 through the server: another
// process (the admin CLI, a backup) holds the write lock for 1.5 s while
// clients send; the group commit waits under busy_timeout and every message
// is acked, none refused.
func TestBusyDatabaseDuringBurst(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("prof", "admin")
	reader := env.AddUser("rea", "user")
	other, err := sql.Open("sqlite", "file:"+filepath.Join(env.DataDir, server.DBFile)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	const clients, each = 4, 20
	var sockets []*servertest.WS
	for c := range clients {
		sockets = append(sockets, env.AddUser(fmt.Sprintf("s%02d", c), "user").DialWS())
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "UPDATE settings SET value = value WHERE key = 'name'"); err != nil {
		t.Fatal(err)
	}
	type result struct {
		cid string
		f   servertest.Frame
	}
	results := make(chan result, clients*each)
	var wg sync.WaitGroup
	for c, ws := range sockets {
		wg.Go(func() {
			for i := range each {
				cid := fmt.Sprintf("%d-%d", c, i)
				ws.Send(send(1, cid, "during the lock "+cid))
			}
			for range each {
				f := ws.Next()
				for f.Type() != "ack" && f.Type() != "error" {
					f = ws.Next()
				}
				cid, _ := f["client_id"].(string)
				results <- result{cid, f}
			}
		})
	}
	// Reads are not blocked by the other writer (WAL).
	reader.Must(200, "GET", "/api/v1/conversations/1/messages", nil)
	time.Sleep(1500 * time.Millisecond) // hold the write lock, as a CLI or backup would
	if len(results) != 0 {
		t.Fatalf("%d sends answered while another connection held the write lock: %v", len(results), (<-results).f)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(results)
	acked := map[string]int64{}
	for r := range results {
		if r.f.Type() != "ack" {
			t.Fatalf("send during the lock got %v, want an ack", r.f)
		}
		acked[r.cid] = r.f.Seq()
	}
	if len(acked) != clients*each {
		t.Fatalf("%d distinct acks, want %d", len(acked), clients*each)
	}
	checkHistory(t, allMessages(t, reader, 1), acked, nil)
	if logs := env.Logs(); strings.Contains(logs, "storing messages failed") || strings.Contains(logs, "status=5") {
		t.Fatalf("server logged failures while waiting for the lock:\n%s", logs)
	}
}
