package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Scenario b: the most acked messages a second one conversation sustains,
// 40 senders with 32 messages each in flight, every ack after its commit
// (synchronous=FULL), next to the raw one-row-per-commit SQLite rate of the
// same disk. The driver negotiates teamchat.v2 like the web client (unless
// -legacy), so acks may arrive several to a message. It does as little as
// it can per message (frames built in a reused buffer, acks found by their
// fixed prefix) because it shares the machine's cores with the server.
const durableSenders, durableWindow = 40, 32

type durableResult struct {
	rate, cpu     float64
	driverCPU     float64 // the load driver's own CPU, same window (it shares the cores)
	rss           int64
	acked, stored int
	refused       int64 // error frames (e.g. unavailable) answered instead of an ack
	elapsed       time.Duration
}

func scenarioB(bin, baseline, root string, dur time.Duration) error {
	dir, err := freshDir(root, "b")
	if err != nil {
		return err
	}
	raw, err := rawInsertRate(dir, dur/2)
	if err != nil {
		return err
	}
	type run struct{ label, bin string }
	runs := []run{{"Team Chat", bin}}
	if baseline != "" {
		runs = []run{{"Team Chat baseline", baseline}, {"Team Chat", bin}}
	}
	var res []durableResult
	for _, r := range runs {
		d, err := durableRun(r.bin, filepath.Join(root, "b-"+strings.ReplaceAll(strings.ToLower(r.label), " ", "-")), r.label, dur)
		if err != nil {
			return fmt.Errorf("%s: %w", r.label, err)
		}
		res = append(res, d)
	}
	fmt.Printf("## b) highest acked rate on one conversation (synchronous=FULL, ack after commit)\n\n")
	head, sep := "| figure |", "|---|"
	for _, r := range runs {
		head += " " + r.label + " |"
		sep += "---|"
	}
	fmt.Println(head)
	fmt.Println(sep)
	row := func(name string, f func(durableResult) string) {
		line := "| " + name + " |"
		for _, d := range res {
			line += " " + f(d) + " |"
		}
		fmt.Println(line)
	}
	row("raw SQLite insert rate, one row per commit, same disk", func(durableResult) string { return fmt.Sprintf("%.0f rows/s", raw) })
	row(fmt.Sprintf("acked messages/s (%d senders × %d in flight, group commit)", durableSenders, durableWindow),
		func(d durableResult) string { return fmt.Sprintf("**%.0f msgs/s**", d.rate) })
	row("ratio to the raw rate", func(d durableResult) string { return fmt.Sprintf("%.2f×", d.rate/raw) })
	row("server CPU / RSS", func(d durableResult) string { return fmt.Sprintf("%.0f %% / %.1f MiB", d.cpu, float64(d.rss)/(1<<20)) })
	row("load driver CPU (same cores)", func(d durableResult) string { return fmt.Sprintf("%.0f %%", d.driverCPU) })
	row("server CPU per acked message", func(d durableResult) string {
		return fmt.Sprintf("%.0f µs", d.cpu/100*d.elapsed.Seconds()*1e6/(d.rate*d.elapsed.Seconds()))
	})
	row("every acked message stored exactly once", func(d durableResult) string {
		return fmt.Sprintf("yes: %d acked, %d stored, %d refused", d.acked, d.stored, d.refused)
	})
	fmt.Println()
	return nil
}

// durableRun measures one binary on a fresh data directory, then stops it
// and checks its database.
func durableRun(bin, root, label string, dur time.Duration) (durableResult, error) {
	var r durableResult
	dir, err := freshDir(root, "data")
	if err != nil {
		return r, err
	}
	var extra []string
	pp := ""
	if profileDir != "" {
		if pp, err = freePort(); err != nil {
			return r, err
		}
		extra = append(extra, "--pprof", pp)
	}
	s, err := startServer(bin, dir, extra...)
	if err != nil {
		return r, err
	}
	defer s.stop()
	admin, err := s.token("admin")
	if err != nil {
		return r, err
	}
	toks, err := s.users(admin, "fast", durableSenders)
	if err != nil {
		return r, err
	}
	dialer := *websocket.DefaultDialer
	if !legacyFraming {
		dialer.Subprotocols = []string{tcProtocol}
	}
	u := "ws" + strings.TrimPrefix(s.url, "http") + "/api/v1/ws"
	var acked, refused atomic.Int64
	var wg sync.WaitGroup
	ackedIDs := make([][]string, durableSenders) // per sender: the client_ids acked, checked against the database at the end
	stopAt := time.Now().Add(dur + time.Second)
	measureFrom := time.Now().Add(time.Second)
	for i, tok := range toks {
		c, _, err := dialer.Dial(u, http.Header{"Authorization": {"Bearer " + tok}})
		if err != nil {
			return r, err
		}
		if err := readUntil(c, `"type":"ready"`); err != nil {
			return r, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			slots := make(chan struct{}, durableWindow)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					_, data, err := c.ReadMessage()
					if err != nil {
						return
					}
					for len(data) > 0 {
						line := data
						if j := bytes.IndexByte(data, '\n'); j >= 0 {
							line, data = data[:j], data[j+1:]
						} else {
							data = nil
						}
						switch id, kind := ackOf(line); kind {
						case "ack":
							acked.Add(1)
							ackedIDs[i] = append(ackedIDs[i], id)
							<-slots
						case "error":
							refused.Add(1)
							<-slots
						}
					}
				}
			}()
			prefix := []byte(`{"type":"send","conversation_id":1,"body":"` + strings.Repeat("x", 80) + `","client_id":"b` + strconv.Itoa(i) + "-")
			buf := make([]byte, 0, len(prefix)+24)
			for n := 0; time.Now().Before(stopAt); n++ {
				slots <- struct{}{}
				buf = append(strconv.AppendInt(append(buf[:0], prefix...), int64(n), 10), `"}`...)
				if c.WriteMessage(websocket.TextMessage, buf) != nil {
					return
				}
			}
			c.Close()
			<-done
		}()
	}
	time.Sleep(time.Until(measureFrom)) // warm-up second
	atStart := acked.Load()
	if pp != "" {
		go func() {
			url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pp, int(dur.Seconds()))
			name := filepath.Join(profileDir, strings.ReplaceAll(strings.ToLower(label), " ", "-")+".b.cpu.pprof")
			if err := fetchTo(url, name); err != nil {
				fmt.Fprintln(os.Stderr, "profile:", err)
			}
		}()
	}
	cpu0, _ := procStat(s.cmd.Process.Pid)
	self0, _ := procStat(os.Getpid())
	t0 := time.Now()
	time.Sleep(dur)
	n := acked.Load() - atStart
	r.elapsed = time.Since(t0)
	cpu1, rss := procStat(s.cmd.Process.Pid)
	self1, _ := procStat(os.Getpid())
	r.driverCPU = 100 * float64(self1-self0) / float64(r.elapsed)
	if pp != "" {
		name := filepath.Join(profileDir, strings.ReplaceAll(strings.ToLower(label), " ", "-")+".b.allocs.pprof")
		if err := fetchTo("http://"+pp+"/debug/pprof/allocs", name); err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
		}
	}
	wg.Wait()
	s.stop()
	stored, err := checkStoredOnce(filepath.Join(dir, "teamchat.db"), ackedIDs)
	if err != nil {
		return r, err
	}
	r.rate = float64(n) / r.elapsed.Seconds()
	r.cpu = 100 * float64(cpu1-cpu0) / float64(r.elapsed)
	r.rss = rss
	r.acked, r.stored, r.refused = int(acked.Load()), stored, refused.Load()
	return r, nil
}

// ackOf tells an ack (and its client_id) or an error frame from the other
// frames of one line. The server writes the type first and an ack's
// client_id second; anything else is decoded in full.
func ackOf(line []byte) (string, string) {
	const ack = `{"type":"ack","client_id":"`
	if bytes.HasPrefix(line, []byte(ack)) {
		rest := line[len(ack):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 && bytes.IndexByte(rest[:j], '\\') < 0 {
			return string(rest[:j]), "ack"
		}
	}
	if !bytes.Contains(line, []byte(`"ack"`)) && !bytes.Contains(line, []byte(`"error"`)) {
		return "", ""
	}
	var f struct {
		Type     string `json:"type"`
		ClientID string `json:"client_id"`
	}
	if json.Unmarshal(line, &f) != nil {
		return "", ""
	}
	return f.ClientID, f.Type
}

// checkStoredOnce opens the database of a stopped server and checks that
// every acked client_id is stored exactly once; it returns how many messages
// are stored (unacked ones in flight at the end may be stored too, once).
func checkStoredOnce(path string, acked [][]string) (int, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT client_id, count(*) FROM messages WHERE client_id IS NOT NULL GROUP BY client_id`)
	if err != nil {
		return 0, fmt.Errorf("reading the stored messages: %w", err)
	}
	defer rows.Close()
	// client_ids are unique per sender; the load's ids are unique over all senders.
	count := map[string]int{}
	total := 0
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return 0, err
		}
		count[id] = n
		total += n
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, ids := range acked {
		for _, id := range ids {
			if count[id] != 1 {
				return 0, fmt.Errorf("acked message %s is stored %d times", id, count[id])
			}
		}
	}
	for id, n := range count {
		if n != 1 {
			return 0, fmt.Errorf("message %s is stored %d times", id, n)
		}
	}
	return total, nil
}
