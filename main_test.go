package main

// End-to-end tests of the built binary: crash (SIGKILL) and graceful shutdown
// during bursts of messages. The history of every client is recorded and
// checked like a Jepsen set: every acked message is stored exactly once, seqs
// are contiguous, and the database passes its integrity check.

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	_ "modernc.org/sqlite"
)

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "teamchat-bin")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "teamchat")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the binary failed: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	cmd  *exec.Cmd
	url  string
	logs *lockedBuffer // stderr, safe to read while it runs
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// wait returns the exit status once the process has exited.
func (p *proc) wait() error {
	<-p.done
	return p.err
}

var urlRE = regexp.MustCompile(`running at (http://127\.0\.0\.1:\d+)/`)

func startServer(t *testing.T, data string, extra ...string) *proc {
	t.Helper()
	p := launch(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--no-mdns", "--msg-rate", "0"}, extra...))
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	return p
}

// launch starts the built binary with args and returns once it prints its URL.
func launch(t *testing.T, args []string) *proc {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: logs, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := urlRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { p.err = cmd.Wait(); close(p.done) }()
	select {
	case p.url = <-found:
	case <-p.done:
		t.Fatalf("server exited: %v\n%s", p.err, logs)
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("server did not print its URL\n%s", logs)
	}
	return p
}

func addUser(t *testing.T, data, name, role string) {
	t.Helper()
	cmd := exec.Command(binPath, "user", "add", "--data", data, "--username", name, "--role", role)
	cmd.Stdin = strings.NewReader("correct horse battery\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user add %s: %v\n%s", name, err, out)
	}
}

func token(t *testing.T, base, name string) string {
	t.Helper()
	body := fmt.Sprintf(`{"username":%q,"password":"correct horse battery"}`, name)
	res, err := http.Post(base+"/api/v1/auth/token", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || out.AccessToken == "" {
		t.Fatalf("token for %s: %v (status %d)", name, err, res.StatusCode)
	}
	return out.AccessToken
}

// history is one client's record: what it sent and what was acked with which seq.
type history struct {
	mu    sync.Mutex
	acked map[string]int64 // client_id → seq
	close int              // close code seen by the reader, 0 if none
}

// burst sends msgs on one socket and records acks until the socket dies or all are acked.
func burst(t *testing.T, base, tok, prefix string, ids []string, h *history, started chan<- struct{}) {
	u := "ws" + strings.TrimPrefix(base, "http") + "/api/v1/ws"
	conn, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		if started != nil {
			close(started)
		}
		return
	}
	defer conn.Close()
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				if ce, ok := err.(*websocket.CloseError); ok {
					h.mu.Lock()
					h.close = ce.Code
					h.mu.Unlock()
				}
				return
			}
			var f struct {
				Type     string `json:"type"`
				ClientID string `json:"client_id"`
				Message  struct {
					Seq int64 `json:"seq"`
				} `json:"message"`
			}
			if json.Unmarshal(data, &f) == nil && f.Type == "ack" {
				h.mu.Lock()
				h.acked[f.ClientID] = f.Message.Seq
				n := len(h.acked)
				h.mu.Unlock()
				if n == len(ids) {
					return
				}
			}
		}
	}()
	if started != nil {
		close(started)
	}
	for _, id := range ids {
		if err := conn.WriteJSON(map[string]any{"type": "send", "conversation_id": 1, "client_id": id, "body": prefix + " " + id}); err != nil {
			break
		}
	}
	<-readerDone
}

type stored struct {
	Seq      int64  `json:"seq"`
	ClientID string `json:"client_id"`
	Body     string `json:"body"`
}

func readAll(t *testing.T, base, tok string) []stored {
	t.Helper()
	var all []stored
	after := int64(0)
	for {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/conversations/1/messages?after_seq=%d&limit=200", base, after), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Messages []stored `json:"messages"`
			HasMore  bool     `json:"has_more"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Messages...)
		if !page.HasMore {
			return all
		}
		after = page.Messages[len(page.Messages)-1].Seq
	}
}

func integrityCheck(t *testing.T, data string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "teamchat.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %q %v", res, err)
	}
}

// checkSet verifies the chat-set invariants over the final read.
func checkSet(t *testing.T, msgs []stored, users []string, all map[string][]string, hist map[string]*history) {
	t.Helper()
	byID := map[string]int{}
	for i, m := range msgs {
		if m.Seq != int64(i+1) {
			t.Fatalf("seq %d at position %d: not contiguous", m.Seq, i)
		}
		byID[m.ClientID]++
	}
	total := 0
	for _, u := range users {
		for _, id := range all[u] {
			total++
			if byID[id] != 1 {
				t.Fatalf("%s stored %d times", id, byID[id])
			}
		}
		for id, seq := range hist[u].acked {
			if msgs[seq-1].ClientID != id {
				t.Fatalf("ack said %s has seq %d, stored %s there", id, seq, msgs[seq-1].ClientID)
			}
		}
	}
	if len(msgs) != total {
		t.Fatalf("%d messages stored, %d sent: something nobody sent was stored", len(msgs), total)
	}
}

func TestCrashDuringBurstLosesNothingAcked(t *testing.T) {
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("TEAMCHAT_CRASH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	for round := range rounds {
		t.Run(fmt.Sprintf("round-%d", round), func(t *testing.T) {
			data := t.TempDir()
			addUser(t, data, "prof", "admin")
			users := []string{"stu0", "stu1", "stu2", "stu3", "stu4", "stu5"}
			for _, u := range users {
				addUser(t, data, u, "user")
			}
			p := startServer(t, data)
			all := map[string][]string{}
			hist := map[string]*history{}
			for _, u := range users {
				for i := range 200 {
					all[u] = append(all[u], fmt.Sprintf("%s-%d", u, i))
				}
				hist[u] = &history{acked: map[string]int64{}}
			}
			var wg sync.WaitGroup
			for _, u := range users {
				tok := token(t, p.url, u)
				wg.Add(1)
				go func() {
					defer wg.Done()
					burst(t, p.url, tok, "round", all[u], hist[u], nil)
				}()
			}
			// Kill at a random point: after 1..800 acks in all.
			killAt := 1 + rand.IntN(800)
			deadline := time.Now().Add(30 * time.Second)
			for {
				n := 0
				for _, h := range hist {
					h.mu.Lock()
					n += len(h.acked)
					h.mu.Unlock()
				}
				if n >= killAt || time.Now().After(deadline) {
					break
				}
				time.Sleep(time.Millisecond) // polling the history, not synchronizing
			}
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			p.wait()
			wg.Wait()
			integrityCheck(t, data)
			// Restart and resend everything with the same client_ids (acked or not).
			p2 := startServer(t, data)
			for _, u := range users {
				tok := token(t, p2.url, u)
				wg.Add(1)
				go func() {
					defer wg.Done()
					h := &history{acked: map[string]int64{}}
					burst(t, p2.url, tok, "round", all[u], h, nil)
					for id, seq := range hist[u].acked {
						if h.acked[id] != seq {
							t.Errorf("%s acked with seq %d before the crash, %d after", id, seq, h.acked[id])
						}
					}
					hist[u].mu.Lock()
					for id, seq := range h.acked {
						hist[u].acked[id] = seq
					}
					hist[u].mu.Unlock()
				}()
			}
			wg.Wait()
			msgs := readAll(t, p2.url, token(t, p2.url, "prof"))
			checkSet(t, msgs, users, all, hist)
			t.Logf("killed after %d acks; %d messages stored exactly once", killAt, len(msgs))
		})
	}
}

func TestGracefulShutdownDuringBurst(t *testing.T) {
	data := t.TempDir()
	addUser(t, data, "prof", "admin")
	users := []string{"a", "b", "c", "d"}
	for _, u := range users {
		addUser(t, data, u+"user", "user")
	}
	p := startServer(t, data)
	all := map[string][]string{}
	hist := map[string]*history{}
	var wg sync.WaitGroup
	for _, u := range users {
		name := u + "user"
		for i := range 300 {
			all[name] = append(all[name], fmt.Sprintf("%s-%d", name, i))
		}
		hist[name] = &history{acked: map[string]int64{}}
		tok := token(t, p.url, name)
		started := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			burst(t, p.url, tok, "g", all[name], hist[name], started)
		}()
		<-started
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.logs)
	}
	wg.Wait()
	if !strings.Contains(p.logs.String(), "msg=stopped") {
		t.Fatalf("no clean stop in the log:\n%s", p.logs)
	}
	names := []string{}
	for _, u := range users {
		name := u + "user"
		names = append(names, name)
		h := hist[name]
		if len(h.acked) < len(all[name]) && h.close != websocket.CloseGoingAway {
			t.Fatalf("%s: socket closed with %d, want 1001 (acked %d)", name, h.close, len(h.acked))
		}
	}
	integrityCheck(t, data)
	p2 := startServer(t, data)
	msgs := readAll(t, p2.url, token(t, p2.url, "prof"))
	// Acked ones are all there; unacked ones may be stored (at most once) or not.
	seen := map[string]int{}
	for i, m := range msgs {
		if m.Seq != int64(i+1) {
			t.Fatalf("seqs not contiguous at %d", i)
		}
		seen[m.ClientID]++
	}
	for _, n := range names {
		for id, seq := range hist[n].acked {
			if seen[id] != 1 || msgs[seq-1].ClientID != id {
				t.Fatalf("acked %s (seq %d) stored %d times", id, seq, seen[id])
			}
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s stored %d times", id, n)
		}
	}
}

func TestSecondInstanceOnSameDataDirRefuses(t *testing.T) {
	data := t.TempDir()
	startServer(t, data)
	out, err := exec.Command(binPath, "serve", "--addr", "127.0.0.1:0", "--data", data, "--no-mdns").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already running") {
		t.Fatalf("second instance: %v\n%s", err, out)
	}
}

func TestCorruptDatabaseIsRefused(t *testing.T) {
	data := t.TempDir()
	addUser(t, data, "prof", "admin")
	db := filepath.Join(data, "teamchat.db")
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	for i := 100; i < len(b); i += 97 {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(db, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binPath, "serve", "--addr", "127.0.0.1:0", "--data", data, "--no-mdns").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "corrupt") || !strings.Contains(string(out), "backup") {
		t.Fatalf("corrupt database: %v\n%s", err, out)
	}
}

func TestBackupAndExportWhileRunning(t *testing.T) {
	data := t.TempDir()
	addUser(t, data, "prof", "admin")
	p := startServer(t, data)
	tok := token(t, p.url, "prof")
	h := &history{acked: map[string]int64{}}
	ids := []string{"x1", "x2", "x3"}
	burst(t, p.url, tok, `a "quoted", body`, ids, h, nil)
	out := filepath.Join(t.TempDir(), "copy.db")
	if b, err := exec.Command(binPath, "backup", "--data", data, "--out", out).CombinedOutput(); err != nil {
		t.Fatalf("backup: %v\n%s", err, b)
	}
	copyDB, err := sql.Open("sqlite", "file:"+out+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := copyDB.QueryRow("SELECT count(*) FROM messages").Scan(&n); err != nil || n != 3 {
		t.Fatalf("backup holds %d messages (%v)", n, err)
	}
	copyDB.Close()
	jsonOut, err := exec.Command(binPath, "export", "--data", data, "--format", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Conversations []struct {
			Name     string   `json:"name"`
			Messages []stored `json:"messages"`
		} `json:"conversations"`
	}
	if err := json.Unmarshal(jsonOut, &exp); err != nil || len(exp.Conversations) != 1 || len(exp.Conversations[0].Messages) != 3 {
		t.Fatalf("json export: %v %s", err, jsonOut)
	}
	for i, m := range exp.Conversations[0].Messages {
		if m.ClientID != ids[i] || m.Body != `a "quoted", body `+ids[i] || m.Seq != int64(i+1) {
			t.Fatalf("export row %d: %+v", i, m)
		}
	}
	csvOut, err := exec.Command(binPath, "export", "--data", data, "--format", "csv", "--conversation", "1").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(csvOut)), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "conversation_id,conversation_name,seq") || !strings.Contains(lines[1], `"a ""quoted"", body x1"`) {
		t.Fatalf("csv export:\n%s", csvOut)
	}
}

func TestAutomaticBackupAndRestore(t *testing.T) {
	data := t.TempDir()
	addUser(t, data, "prof", "admin")
	p := startServer(t, data)
	tok := token(t, p.url, "prof")
	burst(t, p.url, tok, "before", []string{"r1", "r2"}, &history{acked: map[string]int64{}}, nil)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.logs)
	}
	out, err := exec.Command(binPath, "restore", "--data", data, "--list").Output()
	if err != nil || !strings.Contains(string(out), "backups/teamchat-") {
		t.Fatalf("no backup at shutdown: %v %s", err, out)
	}
	// Messages written after the backup are gone after restoring it; the old files are kept.
	p2 := startServer(t, data, "--backup-every", "0")
	burst(t, p2.url, token(t, p2.url, "prof"), "after", []string{"r3"}, &history{acked: map[string]int64{}}, nil)
	// Restoring while the server runs is refused (the lock).
	if b, err := exec.Command(binPath, "restore", "--data", data, "--from", "latest").CombinedOutput(); err == nil || !strings.Contains(string(b), "already running") {
		t.Fatalf("restore while running: %v %s", err, b)
	}
	p2.cmd.Process.Signal(syscall.SIGTERM)
	p2.wait()
	if b, err := exec.Command(binPath, "restore", "--data", data, "--from", "latest").CombinedOutput(); err != nil {
		t.Fatalf("restore: %v %s", err, b)
	}
	p3 := startServer(t, data)
	msgs := readAll(t, p3.url, token(t, p3.url, "prof"))
	if len(msgs) != 2 || msgs[1].ClientID != "r2" {
		t.Fatalf("after restore: %+v", msgs)
	}
	kept, _ := filepath.Glob(filepath.Join(data, "teamchat.db.before-restore-*"))
	if len(kept) != 1 {
		t.Fatalf("previous database not kept: %v", kept)
	}
}
