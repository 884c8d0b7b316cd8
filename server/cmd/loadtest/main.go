// Command loadtest measures a real Team Chat binary over real WebSockets on
// 127.0.0.1 (make bench). Scenarios, all on one conversation:
//
//   - 2,000 and 5,000 clients connect and subscribe, then stay idle: time,
//     evictions (4008), server RSS per connection;
//   - 1,000 clients, 50 senders, 200 msgs/s: delivery latency;
//   - 300 clients, 30 senders: delivery at 100 msgs/s, and the highest rate
//     whose delivery p99 stays within 100 ms (stepping the rate up);
//   - b) the most acked messages/s one conversation sustains, next to the raw
//     single-connection SQLite insert rate (synchronous=FULL, one row per
//     commit) measured on the same disk in the same run.
//
// With -peer centrifugo -peer-bin PATH the fan-out scenarios also run against
// a Centrifugo binary (its JSON protocol, one channel, client-side publish),
// with the same driver in the same run. It talks only to the servers it
// starts on 127.0.0.1 and stops by itself.
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
	baseline := flag.String("baseline", "", "also measure this other Team Chat binary (e.g. the previous release) in the fan-out scenarios")
	peer := flag.String("peer", "", "also measure this peer: centrifugo")
	peerBin := flag.String("peer-bin", "", "the peer's binary")
	only := flag.String("only", "", "comma-separated subset: connect2000,connect5000,load1000,load300,rate300,b")
	flag.StringVar(&profileDir, "profile", "", "save the server's CPU and allocation profiles per scenario into this directory (via --pprof)")
	flag.BoolVar(&legacyFraming, "legacy", false, "Team Chat clients use the unnegotiated protocol (one frame per message, presence per user)")
	flag.Parse()
	if *peer != "" && *peer != "centrifugo" {
		fmt.Fprintln(os.Stderr, "loadtest: -peer: only centrifugo is known")
		os.Exit(2)
	}
	if (*peer == "") != (*peerBin == "") {
		fmt.Fprintln(os.Stderr, "loadtest: -peer and -peer-bin go together")
		os.Exit(2)
	}
	if err := run(*bin, *baseline, *dataRoot, *dur, *peerBin, *only); err != nil {
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
	return startServerArgs(bin, data)
}

// startServerArgs serves an existing data directory.
func startServerArgs(bin, data string, extra ...string) (*server, error) {
	// The per-user message limit is off: scenario b measures the store, not the limiter.
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--no-mdns", "--msg-rate", "0", "--max-conns-per-ip", "0", "--signin-rate", "0"}, extra...)
	cmd := exec.Command(bin, args...)
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

func run(bin, baseline, root string, dur time.Duration, peerBin, only string) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	if profileDir != "" {
		if err := os.MkdirAll(profileDir, 0o700); err != nil {
			return err
		}
	}
	want := func(s string) bool { return only == "" || strings.Contains(","+only+",", ","+s+",") }
	fmt.Printf("# Team Chat load test (%s, %s per timed scenario)\n\n", time.Now().UTC().Format(time.RFC3339), dur)
	most := 0
	for _, c := range []struct {
		name string
		n    int
	}{{"connect5000", 5000}, {"connect2000", 2000}, {"load1000", 1000}, {"load300", 300}, {"rate300", 300}} {
		if want(c.name) {
			most = max(most, c.n)
		}
	}
	var rs results
	if most > 0 {
		var factories []targetFactory
		if baseline != "" {
			tb, err := teamchatFactory("Team Chat baseline", baseline, filepath.Join(root, "baseline"), most)
			if err != nil {
				return fmt.Errorf("baseline accounts: %w", err)
			}
			factories = append(factories, tb)
		}
		tc, err := teamchatFactory("Team Chat", bin, filepath.Join(root, "fanout"), most)
		if err != nil {
			return fmt.Errorf("accounts: %w", err)
		}
		factories = append(factories, tc)
		if peerBin != "" {
			factories = append(factories, centrifugoFactory(peerBin, filepath.Join(root, "peer")))
		}
		for _, f := range factories {
			steps := []struct {
				name string
				run  func() error
			}{
				{"connect2000", func() error { return connectScenario(&rs, f, 2000, 5*time.Second) }},
				{"connect5000", func() error { return connectScenario(&rs, f, 5000, 5*time.Second) }},
				{"load1000", func() error { return loadScenario(&rs, f, 1000, 50, 200, dur) }},
				{"load300", func() error { return loadScenario(&rs, f, 300, 30, 100, dur) }},
				{"rate300", func() error { return rateSearch(&rs, f, 300, 30, 100*time.Millisecond, 5*time.Second) }},
			}
			for _, st := range steps {
				if !want(st.name) {
					continue
				}
				if err := st.run(); err != nil {
					return fmt.Errorf("%s: %w", st.name, err)
				}
			}
		}
		rs.print()
	}
	if want("b") {
		if err := scenarioB(bin, root, dur); err != nil {
			return fmt.Errorf("scenario b: %w", err)
		}
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
