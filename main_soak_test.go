package main

// Soak: classroom traffic with churn against the built binary. A few hundred
// students send, upload and download files, search, type, mark read, leave and
// rejoin conversations, close their tab or drop off the Wi-Fi and come back
// (resuming by after_seq), and some leave the class while new guests join. The
// server's open files, goroutines and live heap must stay flat: a least-squares
// slope over the second half of the run, failing only on clear growth. Every
// student's stream is checked for gaps and duplicates, and every acked message
// is stored exactly once.
//
//	TEAMCHAT_SOAK=2m30s go test -run TestSoak -v .   (make test-soak; make soak runs 30m)
//
// TEAMCHAT_SOAK_STUDENTS (default 200) sets the class size; TEAMCHAT_SOAK_CSV
// names a file for the samples.

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var soakWords = strings.Fields(`lecture exercise homework integral derivative matrix vector proof lemma
	theorem question answer deadline slides notes chapter exam quiz lab report graph function limit
	series café naïve résumé über 微积分 練習`)

func TestSoak(t *testing.T) {
	dur, err := time.ParseDuration(os.Getenv("TEAMCHAT_SOAK"))
	if err != nil || dur <= 0 {
		t.Skip("set TEAMCHAT_SOAK=2m30s (make test-soak) or 30m (make soak)")
	}
	nStudents := 200
	if v, err := strconv.Atoi(os.Getenv("TEAMCHAT_SOAK_STUDENTS")); err == nil && v > 0 {
		nStudents = v
	}
	every := max(2*time.Second, dur/180) // about 180 samples however long it runs
	churnEvery := 3 * time.Second
	sessMin, sessMax := 10*time.Second, 40*time.Second
	if dur >= 10*time.Minute {
		sessMin, sessMax = 20*time.Second, 2*time.Minute
	}

	data := t.TempDir()
	addUser(t, data, "prof", "admin")
	// The per-address connection cap stays at its default: every student
	// connects from a loopback address of its own.
	p := startProfiled(t, data)
	prof, code, convs := classroom(t, p.url, 4)
	wsURL := "ws" + strings.TrimPrefix(p.url, "http") + "/api/v1/ws"

	actCtx, stopActing := context.WithCancel(context.Background())
	connCtx, stopConns := context.WithCancel(context.Background())
	defer stopActing()
	defer stopConns()

	var (
		rmu     sync.Mutex
		all     []*student // every student who ever joined, for the final check
		active  = map[*student]context.CancelFunc{}
		retired = map[*student]chan struct{}{} // closed when its actor stopped
		actors  sync.WaitGroup
		conns   sync.WaitGroup
		nextID  int
		restErr []string
	)
	began := time.Now()
	restFail := func(format string, a ...any) {
		rmu.Lock()
		restErr = append(restErr, fmt.Sprintf("at %s: ", time.Since(began).Round(time.Second))+fmt.Sprintf(format, a...))
		first, n := len(restErr) == 1, len(restErr)
		msg := restErr[n-1]
		rmu.Unlock()
		if n <= 20 {
			t.Logf("failed request: %s", msg)
		}
		if first {
			// What the server was doing when the first request failed.
			if path, err := dumpGoroutines(p.pprof); err == nil {
				t.Logf("first failed request: server goroutines saved in %s", path)
			}
		}
	}
	join := func() error {
		rmu.Lock()
		i := nextID
		nextID++
		rmu.Unlock()
		name := fmt.Sprintf("s%d", i)
		tok, uid, err := guest(p.url, code, "Student "+name)
		if err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		// Two of the four conversations open in this student's tabs.
		c1 := convs[rng.IntN(len(convs))]
		c2 := convs[rng.IntN(len(convs))]
		s := newStudent(name, tok, uid, studentIP(i), wsURL, p.url, c1, c2)
		sctx, cancel := context.WithCancel(connCtx)
		stopped := make(chan struct{})
		rmu.Lock()
		all = append(all, s)
		active[s] = cancel
		retired[s] = stopped
		rmu.Unlock()
		conns.Add(1)
		go func() { defer conns.Done(); s.run(sctx, rand.New(rand.NewPCG(uint64(i), 8))) }()
		actors.Add(1)
		go func() {
			defer actors.Done()
			defer close(stopped)
			soakActor(actCtx, s, rng, prof, sessMin, sessMax, restFail)
		}()
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, nStudents)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < nStudents; i += 8 {
				if err := join(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	countOnline := func() int {
		rmu.Lock()
		defer rmu.Unlock()
		n := 0
		for s := range active {
			if s.online() {
				n++
			}
		}
		return n
	}

	// Churn in the class itself: now and then a student leaves the class for
	// good (their actor stops, the tab closes) and a new guest joins.
	churnDone := make(chan struct{})
	churnRng := rand.New(rand.NewPCG(1, 2))
	go func() {
		defer close(churnDone)
		tick := time.NewTicker(churnEvery)
		defer tick.Stop()
		for {
			select {
			case <-actCtx.Done():
				return
			case <-tick.C:
			}
			rmu.Lock()
			var victim *student
			n := churnRng.IntN(len(active))
			for s := range active {
				if n == 0 {
					victim = s
					break
				}
				n--
			}
			cancel := active[victim]
			delete(active, victim)
			stopped := retired[victim]
			rmu.Unlock()
			go func() {
				// Let what it sent be acked, then close its connection.
				waitUntil(actCtx, 30*time.Second, func() bool { return victim.pendingCount() == 0 })
				victim.mu.Lock()
				victim.offlineUntil = time.Now().Add(time.Hour)
				victim.mu.Unlock()
				victim.drop(false)
				<-stopped
				cancel()
			}()
			victim.retire()
			if err := join(); err != nil {
				restFail("a new guest could not join: %v", err)
			}
		}
	}()

	// Sample the server while the class runs.
	start := time.Now()
	var samples []sample
	sampleErr := error(nil)
	deadline := time.After(dur)
	tick := time.NewTicker(every)
	var csv *os.File
	if path := os.Getenv("TEAMCHAT_SOAK_CSV"); path != "" {
		if csv, err = os.Create(path); err != nil {
			t.Fatal(err)
		}
		defer csv.Close()
		fmt.Fprintln(csv, "seconds,cpu_seconds,rss_mib,heap_mib,goroutines,fds,online,acked,slowest_rest_ms")
	}
	acked := func() int {
		rmu.Lock()
		defer rmu.Unlock()
		n := 0
		for _, s := range all {
			s.mu.Lock()
			n += len(s.acked)
			s.mu.Unlock()
		}
		return n
	}
	lastLog := sample{}
loop:
	for {
		select {
		case <-deadline:
			break loop
		case <-tick.C:
			s, err := sampleServer(p, start, true)
			if err != nil {
				sampleErr = err
				break loop
			}
			s.online = countOnline()
			samples = append(samples, s)
			slowest := time.Duration(restSlowest.Swap(0))
			n := acked()
			if csv != nil {
				fmt.Fprintf(csv, "%.1f,%.2f,%.1f,%.1f,%d,%d,%d,%d,%d\n", s.at.Seconds(), s.cpu.Seconds(), mib(s.rss), mib(s.heap), s.goroutines, s.fds, s.online, n, slowest.Milliseconds())
			}
			if s.at-lastLog.at >= time.Minute || len(samples) == 1 {
				rmu.Lock()
				nerr := len(restErr)
				rmu.Unlock()
				t.Logf("%6s: %d online, %d fds, %d goroutines, heap %.1f MiB, RSS %.1f MiB, CPU %.0f%%, %d acked, %d failed requests",
					s.at.Round(time.Second), s.online, s.fds, s.goroutines, mib(s.heap), mib(s.rss),
					100*(s.cpu-lastLog.cpu).Seconds()/max(0.001, (s.at-lastLog.at).Seconds()), n, nerr)
				lastLog = s
			}
		}
	}
	tick.Stop()
	stopActing()
	<-churnDone
	actors.Wait()
	if sampleErr != nil {
		t.Fatalf("sampling the server: %v", sampleErr)
	}
	for i, e := range restErr {
		if i == 20 {
			t.Errorf("… and %d more failed requests", len(restErr)-20)
			break
		}
		t.Error(e)
	}

	// Flat: fit a line through the second half of the samples (the first half
	// includes the class arriving and caches warming up).
	half := samples[len(samples)/2:]
	if len(half) < 10 {
		t.Fatalf("only %d samples in the second half; run longer", len(half))
	}
	xs := make([]float64, len(half))
	series := map[string][]float64{}
	for i, s := range half {
		xs[i] = s.at.Minutes()
		series["fds"] = append(series["fds"], float64(s.fds))
		series["goroutines"] = append(series["goroutines"], float64(s.goroutines))
		series["heap_mib"] = append(series["heap_mib"], mib(s.heap))
		series["rss_mib"] = append(series["rss_mib"], mib(s.rss))
		series["online"] = append(series["online"], float64(s.online))
	}
	span := xs[len(xs)-1] - xs[0]
	mean := func(v []float64) float64 {
		sum := 0.0
		for _, x := range v {
			sum += x
		}
		return sum / float64(len(v))
	}
	t.Logf("second half (%.1f min, %d samples):", span, len(half))
	for _, k := range []string{"fds", "goroutines", "heap_mib", "rss_mib", "online"} {
		v := series[k]
		sl := slope(xs, v)
		t.Logf("  %-10s mean %8.1f  min %8.1f  max %8.1f  slope %+8.3f/min  (%+.1f over the half)",
			k, mean(v), slices.Min(v), slices.Max(v), sl, sl*span)
	}
	// A leak grows with the churn: one fd or goroutine per reconnect would add
	// thousands over the half. The allowance covers the class size moving a little.
	for _, k := range []string{"fds", "goroutines"} {
		v := series[k]
		if growth := slope(xs, v) * span; growth > 50+0.1*mean(v) {
			t.Errorf("%s grew by %.0f over the second half (mean %.0f): a leak", k, growth, mean(v))
		}
	}
	if v := series["heap_mib"]; slope(xs, v)*span > 64+0.5*mean(v) {
		t.Errorf("live heap grew by %.1f MiB over the second half (mean %.1f MiB): a leak", slope(xs, v)*span, mean(v))
	}
	// Drain: every student still in class comes back online, its outbox is
	// acked, and it has seen every message of its conversations.
	rmu.Lock()
	stay := make([]*student, 0, len(active))
	for s := range active {
		stay = append(stay, s)
	}
	rmu.Unlock()
	waitForOr(t, 3*time.Minute, "every student online with an empty outbox", func() bool {
		for _, s := range stay {
			if !s.online() || s.pendingCount() > 0 {
				return false
			}
		}
		return true
	}, func() string {
		return describeStuck(stay, func(s *student) bool { return s.online() && s.pendingCount() == 0 }) + serverDump(p)
	})
	heads := awaitCaughtUp(t, prof, convs, stay, "every student caught up with its conversations", p)
	stopConns()
	conns.Wait()

	var faults []string
	reconnects, closes := 0, map[int]int{}
	for _, s := range all {
		s.mu.Lock()
		faults = append(faults, s.faults...)
		reconnects += s.readies
		for c, n := range s.closes {
			closes[c] += n
		}
		s.mu.Unlock()
	}
	for i, f := range faults {
		if i == 20 {
			t.Errorf("… and %d more", len(faults)-20)
			break
		}
		t.Error(f)
	}
	checkStored(t, prof, convs, all)
	cpu := samples[len(samples)-1].cpu - samples[0].cpu
	cpuPct := 100 * cpu.Seconds() / (samples[len(samples)-1].at - samples[0].at).Seconds()
	stored := int64(0)
	for _, h := range heads {
		stored += h
	}
	t.Logf("soak %s, %d students at a time, %d joined in all; %d connections reached ready; closes seen %v; %d messages stored; server CPU %.0f%% of a core",
		dur, nStudents, len(all), reconnects, closes, stored, cpuPct)
	integrityOK := true
	if t.Failed() {
		integrityOK = false
	}

	if integrityOK {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := p.wait(); err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
		integrityCheck(t, data)
	}
}

// soakActor is one student's behaviour: sessions of a few dozen seconds with
// an action every 2–12 s, then the tab closes (offline for a few seconds) or
// the Wi-Fi drops (reconnect with backoff at once).
func soakActor(ctx context.Context, s *student, rng *rand.Rand, prof api, sessMin, sessMax time.Duration, fail func(string, ...any)) {
	me := api{base: s.rest, tok: s.tok}
	word := func() string { return soakWords[rng.IntN(len(soakWords))] }
	for ctx.Err() == nil && !s.isRetired() {
		end := time.Now().Add(sessMin + time.Duration(rng.Int64N(int64(sessMax-sessMin))))
		for time.Now().Before(end) && !s.isRetired() {
			if !sleepCtx(ctx, 2*time.Second+time.Duration(rng.Int64N(int64(10*time.Second)))) {
				return
			}
			conv, ok := s.someConversation(rng)
			if !ok {
				continue
			}
			switch r := rng.IntN(100); {
			case r < 60:
				s.send(conv, fmt.Sprintf("%s about the %s and the %s", s.name, word(), word()))
			case r < 68: // upload a file and post it
				body := []byte(strings.Repeat(word()+" ", 100+rng.IntN(400)) + s.name + strconv.Itoa(rng.Int()))
				var att struct {
					ID int64 `json:"id"`
				}
				if _, err := me.do("POST", fmt.Sprintf("/api/v1/attachments?conversation_id=%d&name=notes-%d.txt", conv, rng.IntN(1000)), body, &att); err != nil {
					fail("%s: upload: %v", s.name, err)
					continue
				}
				s.mu.Lock()
				s.uploads[att.ID] = len(body)
				s.mu.Unlock()
				s.send(conv, "my notes", att.ID)
			case r < 74: // download one of its own files again
				s.mu.Lock()
				var id int64
				var size int
				for id, size = range s.uploads {
					break
				}
				s.mu.Unlock()
				if id == 0 {
					continue
				}
				if n, err := getLen(me, fmt.Sprintf("/api/v1/attachments/%d", id)); err != nil || n != size {
					fail("%s: download %d: %d bytes, want %d (%v)", s.name, id, n, size, err)
				}
			case r < 82:
				var out struct {
					Results []any `json:"results"`
				}
				if _, err := me.do("GET", "/api/v1/search?q="+word(), nil, &out); err != nil {
					fail("%s: search: %v", s.name, err)
				}
			case r < 88:
				s.frame(map[string]any{"type": "typing", "conversation_id": conv})
			case r < 95:
				s.mu.Lock()
				last := s.subs[conv]
				s.mu.Unlock()
				if last > 0 {
					s.frame(map[string]any{"type": "read", "conversation_id": conv, "seq": last})
				}
			default: // leave the conversation for a moment, then the professor adds them back
				if s.pendingCount() > 0 {
					continue
				}
				s.mu.Lock()
				delete(s.subs, conv)
				delete(s.awaiting, conv)
				s.mu.Unlock()
				if _, err := me.do("DELETE", fmt.Sprintf("/api/v1/conversations/%d/members/%d", conv, s.uid), nil, nil); err != nil {
					fail("%s: leave %d: %v", s.name, conv, err)
				}
				sleepCtx(ctx, time.Second+time.Duration(rng.Int64N(int64(3*time.Second))))
				if code, err := prof.do("POST", fmt.Sprintf("/api/v1/conversations/%d/members", conv), map[string]any{"user_id": s.uid}, nil); err != nil {
					fail("%s: rejoin %d: %v", s.name, conv, err)
					if code != 409 { // still not a member: it stays out of the conversation
						continue
					}
				}
				s.mu.Lock()
				s.subs[conv] = -1
				if s.ready && s.conn != nil {
					s.awaiting[conv] = true
					s.writeLocked(s.conn, map[string]any{"type": "subscribe", "conversation_id": conv})
				}
				s.mu.Unlock()
			}
		}
		if rng.IntN(2) == 0 {
			s.drop(true) // the Wi-Fi drops: reconnect with backoff right away
		} else {
			s.mu.Lock()
			s.offlineUntil = time.Now().Add(time.Second + time.Duration(rng.Int64N(int64(4*time.Second))))
			s.mu.Unlock()
			s.drop(false) // the tab closes; it comes back a few seconds later
		}
	}
}

func (s *student) someConversation(rng *rand.Rand) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var cs []int64
	for c, last := range s.subs {
		if last >= 0 {
			cs = append(cs, c)
		}
	}
	if len(cs) == 0 {
		return 0, false
	}
	slices.Sort(cs)
	return cs[rng.IntN(len(cs))], true
}

func (s *student) retire() {
	s.mu.Lock()
	s.retired = true
	s.mu.Unlock()
}

func (s *student) isRetired() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.retired
}

// getLen downloads path and answers its length.
func getLen(a api, path string) (int, error) {
	req, err := http.NewRequest("GET", a.base+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+a.tok)
	res, err := restClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	n, err := io.Copy(io.Discard, res.Body)
	if res.StatusCode != 200 {
		return int(n), fmt.Errorf("status %d", res.StatusCode)
	}
	return int(n), err
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// waitUntil polls cond until it holds, ctx ends or within passes.
func waitUntil(ctx context.Context, within time.Duration, cond func() bool) {
	deadline := time.Now().Add(within)
	for !cond() && time.Now().Before(deadline) {
		if !sleepCtx(ctx, 100*time.Millisecond) { // polling a condition
			return
		}
	}
}

// dumpGoroutines saves the server's goroutine stacks to a file for later reading.
func dumpGoroutines(base string) (string, error) {
	res, err := restClient.Get(base + "/goroutine?debug=2")
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	f, err := os.CreateTemp("", "teamchat-soak-goroutines-*.txt")
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = io.Copy(f, res.Body)
	return f.Name(), err
}

// serverDump saves the server's goroutines and says where, for a failure message.
func serverDump(p *profiled) string {
	path, err := dumpGoroutines(p.pprof)
	if err != nil {
		return fmt.Sprintf("\n  (no goroutine dump: %v)", err)
	}
	return "\n  server goroutines saved in " + path
}
