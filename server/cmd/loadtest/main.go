// Command loadtest measures a real Team Chat binary over real WebSockets on
// 127.0.0.1 (make bench). Scenarios:
//
//	a) 300 clients subscribed to one conversation, 30 of them sending 100 msgs/s
//	   in total: delivery and ack latency, server CPU and RSS;
//	b) the most acked messages/s one conversation sustains, next to the raw
//	   single-connection SQLite insert rate (synchronous=FULL, one row per
//	   commit) measured on the same disk in the same run;
//	c) 2,000 idle connections: server RSS per connection.
//
// It talks only to the server it starts on 127.0.0.1 and stops by itself.
package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	_ "modernc.org/sqlite"
)

const password = "load test password"

func main() {
	bin := flag.String("server", "bin/teamchat", "teamchat binary to measure")
	dataRoot := flag.String("data", "bin/bench-data", "directory for the data (on the disk to measure)")
	dur := flag.Duration("duration", 10*time.Second, "length of each timed scenario")
	flag.Parse()
	if err := run(*bin, *dataRoot, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

type server struct {
	cmd  *exec.Cmd
	url  string
	data string
}

var urlRE = regexp.MustCompile(`running at (http://127\.0\.0\.1:\d+)/`)

func startServer(bin, data string) (*server, error) {
	cmd := exec.Command(bin, "user", "add", "--data", data, "--username", "admin", "--role", "admin")
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("user add: %v: %s", err, out)
	}
	// The per-user message limit is off: scenario b measures the store, not the limiter.
	cmd = exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", data, "--no-mdns", "--msg-rate", "0", "--max-conns-per-ip", "0")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := urlRE.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stdout)
			return &server{cmd: cmd, url: m[1], data: data}, nil
		}
	}
	cmd.Process.Kill()
	return nil, fmt.Errorf("server did not start")
}

func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
	}
}

func (s *server) post(path, tok string, body any, out any) error {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", s.url+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return fmt.Errorf("POST %s: %d %s", path, res.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (s *server) token(user string) (string, error) {
	var out struct {
		AccessToken string `json:"access_token"`
	}
	err := s.post("/api/v1/auth/token", "", map[string]string{"username": user, "password": password}, &out)
	return out.AccessToken, err
}

// users creates n students named prefix0..n-1 and returns their tokens.
func (s *server) users(admin, prefix string, n int) ([]string, error) {
	toks := make([]string, n)
	for i := range n {
		name := fmt.Sprintf("%s%d", prefix, i)
		if err := s.post("/api/v1/users", admin, map[string]string{"username": name, "password": password, "role": "user"}, nil); err != nil {
			return nil, err
		}
		t, err := s.token(name)
		if err != nil {
			return nil, err
		}
		toks[i] = t
	}
	return toks, nil
}

func (s *server) dial(tok string) (*websocket.Conn, error) {
	u := "ws" + strings.TrimPrefix(s.url, "http") + "/api/v1/ws"
	c, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		return nil, err
	}
	_, _, err = c.ReadMessage() // ready
	return c, err
}

type frame struct {
	Type     string `json:"type"`
	ClientID string `json:"client_id"`
	Message  struct {
		Body string `json:"body"`
		Seq  int64  `json:"seq"`
	} `json:"message"`
}

func subscribe(c *websocket.Conn) error {
	if err := c.WriteJSON(map[string]any{"type": "subscribe", "conversation_id": 1}); err != nil {
		return err
	}
	for {
		var f frame
		if err := c.ReadJSON(&f); err != nil {
			return err
		}
		if f.Type == "subscribed" {
			return nil
		}
	}
}

// procStat returns the process's CPU time (utime+stime) and RSS.
func procStat(pid int) (time.Duration, int64) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	var rss int64
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			rss = kb * 1024
		}
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, rss // USER_HZ is 100 on Linux
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func run(bin, root string, dur time.Duration) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	fmt.Printf("# Team Chat load test (%s, %s per scenario)\n\n", time.Now().UTC().Format(time.RFC3339), dur)
	if err := scenarioA(bin, root, dur); err != nil {
		return fmt.Errorf("scenario a: %w", err)
	}
	if err := scenarioB(bin, root, dur); err != nil {
		return fmt.Errorf("scenario b: %w", err)
	}
	if err := scenarioC(bin, root); err != nil {
		return fmt.Errorf("scenario c: %w", err)
	}
	return nil
}

func freshDir(root, name string) (string, error) {
	d := filepath.Join(root, name)
	if err := os.RemoveAll(d); err != nil {
		return "", err
	}
	return d, os.MkdirAll(d, 0o700)
}

func scenarioA(bin, root string, dur time.Duration) error {
	dir, err := freshDir(root, "a")
	if err != nil {
		return err
	}
	s, err := startServer(bin, dir)
	if err != nil {
		return err
	}
	defer s.stop()
	admin, _ := s.token("admin")
	senders, err := s.users(admin, "sender", 30)
	if err != nil {
		return err
	}
	readers, err := s.users(admin, "reader", 1)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var delivery, acks []time.Duration
	var conns []*websocket.Conn
	var wg sync.WaitGroup
	start := make(chan struct{})
	stopAt := time.Time{}
	readLoop := func(c *websocket.Conn, sender bool, sent *sync.Map) {
		defer wg.Done()
		for {
			var f frame
			if err := c.ReadJSON(&f); err != nil {
				return
			}
			now := time.Now()
			switch f.Type {
			case "message":
				if sender {
					continue // delivery is measured at the 270 pure readers and the other senders' echo is skipped
				}
				ts, err := strconv.ParseInt(strings.Fields(f.Message.Body)[0], 10, 64)
				if err == nil {
					mu.Lock()
					delivery = append(delivery, now.Sub(time.Unix(0, ts)))
					mu.Unlock()
				}
			case "ack":
				if v, ok := sent.LoadAndDelete(f.ClientID); ok {
					mu.Lock()
					acks = append(acks, now.Sub(v.(time.Time)))
					mu.Unlock()
				}
			}
		}
	}
	for i := range 270 {
		c, err := s.dial(readers[0])
		if err != nil {
			return fmt.Errorf("reader %d: %w", i, err)
		}
		if err := subscribe(c); err != nil {
			return err
		}
		conns = append(conns, c)
		wg.Add(1)
		go readLoop(c, false, nil)
	}
	var sentTotal atomic.Int64
	for i, tok := range senders {
		c, err := s.dial(tok)
		if err != nil {
			return err
		}
		if err := subscribe(c); err != nil {
			return err
		}
		conns = append(conns, c)
		sent := &sync.Map{}
		wg.Add(1)
		go readLoop(c, true, sent)
		go func() {
			<-start
			// 30 senders × 3.33 msgs/s = 100 msgs/s, evenly spread.
			// Offsets of 10 ms spread the 30 senders evenly over each 300 ms period.
			time.Sleep(time.Duration(i) * 10 * time.Millisecond)
			tick := time.NewTicker(300 * time.Millisecond)
			defer tick.Stop()
			for n := 0; time.Now().Before(stopAt); n++ {
				<-tick.C
				id := fmt.Sprintf("a%d-%d", i, n)
				now := time.Now()
				sent.Store(id, now)
				body := fmt.Sprintf("%d %s", now.UnixNano(), strings.Repeat("x", 80))
				if c.WriteJSON(map[string]any{"type": "send", "conversation_id": 1, "client_id": id, "body": body}) != nil {
					return
				}
				sentTotal.Add(1)
			}
		}()
	}
	cpu0, _ := procStat(s.cmd.Process.Pid)
	t0 := time.Now()
	stopAt = t0.Add(dur)
	close(start)
	time.Sleep(dur + 2*time.Second) // the scenario's length, then a drain period
	cpu1, rss := procStat(s.cmd.Process.Pid)
	elapsed := time.Since(t0)
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("## a) 300 clients on one conversation, 30 senders, 100 msgs/s\n\n")
	fmt.Printf("| figure | value |\n|---|---|\n")
	fmt.Printf("| messages sent | %d (%.0f/s) |\n", sentTotal.Load(), float64(sentTotal.Load())/dur.Seconds())
	fmt.Printf("| deliveries measured (270 readers) | %d |\n", len(delivery))
	fmt.Printf("| delivery latency p50 / p99 / max | %s / %s / %s |\n", ms(pct(delivery, .5)), ms(pct(delivery, .99)), ms(pct(delivery, 1)))
	fmt.Printf("| ack latency p50 / p99 | %s / %s |\n", ms(pct(acks, .5)), ms(pct(acks, .99)))
	fmt.Printf("| server CPU | %.0f %% of one core |\n", 100*float64(cpu1-cpu0)/float64(elapsed))
	fmt.Printf("| server RSS | %.1f MiB |\n\n", float64(rss)/(1<<20))
	return nil
}

// rawInsertRate is SQLite alone: one connection, synchronous=FULL, WAL, one row per commit.
func rawInsertRate(dir string, dur time.Duration) (float64, error) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "raw.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE m (id INTEGER PRIMARY KEY, conv INTEGER, seq INTEGER, body TEXT, UNIQUE(conv, seq))`); err != nil {
		return 0, err
	}
	body := strings.Repeat("x", 80)
	n := 0
	t0 := time.Now()
	for time.Since(t0) < dur {
		n++
		if _, err := db.Exec(`INSERT INTO m (conv, seq, body) VALUES (1, ?, ?)`, n, body); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

func scenarioB(bin, root string, dur time.Duration) error {
	dir, err := freshDir(root, "b")
	if err != nil {
		return err
	}
	raw, err := rawInsertRate(dir, dur/2)
	if err != nil {
		return err
	}
	s, err := startServer(bin, dir)
	if err != nil {
		return err
	}
	defer s.stop()
	admin, _ := s.token("admin")
	const senders, window = 40, 32
	toks, err := s.users(admin, "fast", senders)
	if err != nil {
		return err
	}
	var acked atomic.Int64
	var wg sync.WaitGroup
	ackedIDs := make([][]string, senders) // per sender: the client_ids acked, checked against the database at the end
	stopAt := time.Now().Add(dur + time.Second)
	measureFrom := time.Now().Add(time.Second)
	var atStart int64
	for i, tok := range toks {
		c, err := s.dial(tok)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			slots := make(chan struct{}, window)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					var f frame
					if c.ReadJSON(&f) != nil {
						return
					}
					if f.Type == "ack" {
						acked.Add(1)
						ackedIDs[i] = append(ackedIDs[i], f.ClientID)
						<-slots
					}
				}
			}()
			body := strings.Repeat("x", 80)
			for n := 0; time.Now().Before(stopAt); n++ {
				slots <- struct{}{}
				if c.WriteJSON(map[string]any{"type": "send", "conversation_id": 1, "client_id": fmt.Sprintf("b%d-%d", i, n), "body": body}) != nil {
					return
				}
			}
			c.Close()
			<-done
		}()
	}
	time.Sleep(time.Until(measureFrom)) // warm-up second
	atStart = acked.Load()
	cpu0, _ := procStat(s.cmd.Process.Pid)
	t0 := time.Now()
	time.Sleep(dur)
	n := acked.Load() - atStart
	elapsed := time.Since(t0)
	cpu1, rss := procStat(s.cmd.Process.Pid)
	wg.Wait()
	s.stop()
	stored, err := checkStoredOnce(filepath.Join(dir, "teamchat.db"), ackedIDs)
	if err != nil {
		return err
	}
	rate := float64(n) / elapsed.Seconds()
	fmt.Printf("## b) highest acked rate on one conversation (synchronous=FULL, ack after commit)\n\n")
	fmt.Printf("| figure | value |\n|---|---|\n")
	fmt.Printf("| raw SQLite insert rate, one row per commit, same disk | %.0f rows/s |\n", raw)
	fmt.Printf("| Team Chat acked messages/s (%d senders × %d in flight, group commit) | %.0f msgs/s |\n", senders, window, rate)
	fmt.Printf("| ratio | %.2f× the raw rate |\n", rate/raw)
	fmt.Printf("| server CPU / RSS | %.0f %% / %.1f MiB |\n", 100*float64(cpu1-cpu0)/float64(elapsed), float64(rss)/(1<<20))
	fmt.Printf("| every acked message stored exactly once | yes: %d acked, %d stored (after the server stopped) |\n\n", acked.Load(), stored)
	return nil
}

func scenarioC(bin, root string) error {
	dir, err := freshDir(root, "c")
	if err != nil {
		return err
	}
	s, err := startServer(bin, dir)
	if err != nil {
		return err
	}
	defer s.stop()
	admin, _ := s.token("admin")
	toks, err := s.users(admin, "idle", 1)
	if err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // let start-up garbage settle before the baseline
	_, before := procStat(s.cmd.Process.Pid)
	const n = 2000
	conns := make([]*websocket.Conn, 0, n)
	for i := range n {
		c, err := s.dial(toks[0])
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, c)
	}
	time.Sleep(3 * time.Second)
	_, after := procStat(s.cmd.Process.Pid)
	for _, c := range conns {
		c.Close()
	}
	fmt.Printf("## c) %d idle connections\n\n", n)
	fmt.Printf("| figure | value |\n|---|---|\n")
	fmt.Printf("| server RSS before / after | %.1f MiB / %.1f MiB |\n", float64(before)/(1<<20), float64(after)/(1<<20))
	fmt.Printf("| RSS per connection | %.1f KiB |\n\n", float64(after-before)/n/1024)
	return nil
}
