package main

// Reconnect storm: a class of students is connected through an "access point"
// (a TCP proxy in the test) while messages flow; the access point resets,
// cutting every connection at once and refusing new ones for a second. The
// students reconnect with the web client's backoff and resume every
// subscription by after_seq. Each one's stream must go on with no gap and no
// duplicate, every acked message is stored exactly once, and the server's
// memory and CPU stay bounded. The curve (students back over time, RSS, CPU)
// is measured, not asserted: `make bench-storm` prints it for
// docs/performance.md.
//
// Two kinds of reset: "silent" (the default) is what a real access point
// does: the students' side dies at once (the browser sees the network go), but
// the server is told nothing and keeps the old sockets until its own ping
// timeout, so it holds both the dead and the new connections meanwhile.
// "close" also closes the server's side at once.
//
//	go test -run TestReconnectStorm -v .    (1,000 students, silent reset; 200 under -race; make test-storm)
//	TEAMCHAT_STORM_MODES=silent,close TEAMCHAT_STORM_CURVE=1 go test …    (make bench-storm)

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// apProxy forwards TCP connections to the server, keeping each client's
// source address (so the server sees one address per student, as behind a
// real access point), and can reset everything at once.
type apProxy struct {
	ln     net.Listener
	target string

	mu          sync.Mutex
	pairs       map[*proxyPair]struct{}
	refuseUntil time.Time
	wg          sync.WaitGroup
}

type proxyPair struct {
	client, server net.Conn
	dead           chan struct{} // closed when the access point resets
	cut            bool          // reset already (p.mu)
}

func newAPProxy(t *testing.T, target string) *apProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &apProxy{ln: ln, target: target, pairs: map[*proxyPair]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *apProxy) addr() string { return p.ln.Addr().String() }

func (p *apProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := time.Now().Before(p.refuseUntil)
		p.mu.Unlock()
		if refuse {
			resetConn(c)
			continue
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

// resetConn closes with RST, as a network that is gone does.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

func (p *apProxy) forward(c net.Conn) {
	defer p.wg.Done()
	ip := c.RemoteAddr().(*net.TCPAddr).IP
	s, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second}).Dial("tcp", p.target)
	if err != nil {
		resetConn(c)
		return
	}
	pair := &proxyPair{client: c, server: s, dead: make(chan struct{})}
	p.mu.Lock()
	p.pairs[pair] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(s, c)
	go pipe(c, s)
	select {
	case <-done:
		// One side ended normally: end both.
		c.Close()
		s.Close()
		<-done
		p.mu.Lock()
		delete(p.pairs, pair)
		p.mu.Unlock()
	case <-pair.dead:
		// Reset: the client side is gone. A silent server side stays in
		// pairs, open, until the proxy closes at the end of the test.
		<-done
		<-done
	}
}

// reset cuts every connection at once and refuses new ones for refuse. With
// silent, the server's side of each connection stays open and nothing more
// passes through it, neither data nor a FIN: what the server sends piles up
// unread in the socket buffers, as toward a vanished phone, until the server
// gives up on it (ping timeout, write deadline or slow-consumer eviction).
func (p *apProxy) reset(refuse time.Duration, silent bool) int {
	p.mu.Lock()
	p.refuseUntil = time.Now().Add(refuse)
	var pairs []*proxyPair
	for pair := range p.pairs {
		if !pair.cut {
			pair.cut = true
			pairs = append(pairs, pair)
		}
	}
	p.mu.Unlock()
	for _, pair := range pairs {
		close(pair.dead)
		resetConn(pair.client)
		if !silent {
			pair.server.Close()
		}
	}
	return len(pairs)
}

func (p *apProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for pair := range p.pairs {
		pair.client.Close()
		pair.server.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func TestReconnectStorm(t *testing.T) {
	n := 1000
	if raceDetector {
		// Under -race (make test-go) each client costs the test about 1 MiB and
		// much CPU; make test-storm runs the 1,000 without it.
		n = 200
	}
	if v, err := strconv.Atoi(os.Getenv("TEAMCHAT_STORM_CLIENTS")); err == nil && v > 0 {
		n = v
	}
	modes := []string{"silent"}
	if v := os.Getenv("TEAMCHAT_STORM_MODES"); v != "" {
		modes = strings.Split(v, ",")
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) { reconnectStorm(t, n, mode == "silent", os.Getenv("TEAMCHAT_STORM_CURVE") != "") })
	}
}

func reconnectStorm(t *testing.T, n int, silent, curve bool) {
	const nConvs = 4
	data := t.TempDir()
	addUser(t, data, "prof", "admin")
	// The per-address cap (32 WebSockets) stays on: the proxy keeps each
	// student's own source address.
	p := startProfiled(t, data)
	prof, code, convs := classroom(t, p.url, nConvs)
	serverAddr := strings.TrimPrefix(p.url, "http://")
	ap := newAPProxy(t, serverAddr)
	apWS := "ws://" + ap.addr() + "/api/v1/ws"
	directWS := "ws" + strings.TrimPrefix(p.url, "http") + "/api/v1/ws"

	// The class: student i follows conversation i mod 4; one in 25 sends a
	// message about every second. The professor's wired machine does not go
	// through the access point and keeps posting to every conversation.
	setupStart := time.Now()
	students := make([]*student, n)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				name := fmt.Sprintf("st%d", i)
				tok, uid, err := guest(p.url, code, "Student "+name)
				if err != nil {
					errs <- err
					return
				}
				students[i] = newStudent(name, tok, uid, studentIP(i), apWS, p.url, convs[i%nConvs])
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wtok, wuid, err := guest(p.url, code, "Wired desk")
	if err != nil {
		t.Fatal(err)
	}
	wired := newStudent("wired", wtok, wuid, net.IPv4(127, 0, 0, 1), directWS, p.url)
	everyone := append(slices.Clone(students), wired)

	connCtx, stopConns := context.WithCancel(context.Background())
	defer stopConns()
	var conns sync.WaitGroup
	for i, s := range everyone {
		conns.Add(1)
		go func() { defer conns.Done(); s.run(connCtx, rand.New(rand.NewPCG(uint64(i), 99))) }()
	}
	allOnline := func() bool {
		for _, s := range everyone {
			if !s.online() {
				return false
			}
		}
		return true
	}
	connectStart := time.Now()
	waitForOr(t, 5*time.Minute, fmt.Sprintf("%d students connected and subscribed", n), allOnline,
		func() string { return describeStuck(everyone, (*student).online) + serverDump(p) })
	connectTook := time.Since(connectStart)
	t.Logf("%d guests joined in %s; all connected and subscribed %s later", n, connectStart.Sub(setupStart).Round(time.Millisecond), connectTook.Round(time.Millisecond))

	sendCtx, stopSending := context.WithCancel(context.Background())
	defer stopSending()
	var senders sync.WaitGroup
	for i, s := range everyone {
		if s != wired && i%25 != 0 {
			continue
		}
		senders.Add(1)
		go func() {
			defer senders.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 5))
			for k := 0; ; k++ {
				if !sleepCtx(sendCtx, 500*time.Millisecond+time.Duration(rng.Int64N(int64(time.Second)))) {
					return
				}
				if s == wired {
					for _, c := range convs {
						s.send(c, fmt.Sprintf("board note %d", k))
					}
				} else {
					s.send(convs[i%nConvs], fmt.Sprintf("%s says %d", s.name, k))
				}
			}
		}()
	}

	// Sample the server every 250 ms from before the reset until it is over.
	start := time.Now()
	var smu sync.Mutex
	var samples []sample
	sampleCtx, stopSampling := context.WithCancel(context.Background())
	sampled := make(chan error, 1)
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			s, err := sampleServer(&profiled{proc: p.proc, pid: p.pid}, start, false)
			if err != nil {
				sampled <- err
				return
			}
			smu.Lock()
			samples = append(samples, s)
			smu.Unlock()
			select {
			case <-sampleCtx.Done():
				sampled <- nil
				return
			case <-tick.C:
			}
		}
	}()
	// Messages flow for a few seconds before the reset.
	waitFor(t, time.Minute, "messages flowing", func() bool {
		wired.mu.Lock()
		defer wired.mu.Unlock()
		return len(wired.acked) >= 3*nConvs
	})
	sleepCtx(context.Background(), 2*time.Second) // let the traffic run before the reset (not synchronizing)
	goroutinesBefore, _, _ := pprofCounts(p.pprof, false)

	cutAt := time.Now()
	cut := ap.reset(time.Second, silent)
	back := func() (resumed int, last time.Time) {
		for _, s := range students {
			s.mu.Lock()
			if r, ok := s.firstAfter(cutAt); ok {
				resumed++
				if r.After(last) {
					last = r
				}
			}
			s.mu.Unlock()
		}
		return
	}
	waitForOr(t, 3*time.Minute, "every student back and resumed after the reset", func() bool {
		resumed, _ := back()
		return resumed == n
	}, func() string {
		return describeStuck(students, func(s *student) bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			_, ok := s.firstAfter(cutAt)
			return ok
		}) + serverDump(p)
	})
	t.Logf("all %d resumed %s after the reset", n, time.Since(cutAt).Round(time.Millisecond))
	_, lastResumed := back()
	converged := lastResumed.Sub(cutAt)

	// Traffic stops; every outbox is acked and everyone has every message.
	stopSending()
	senders.Wait()
	noPending := func(s *student) bool { return s.pendingCount() == 0 }
	waitForOr(t, 2*time.Minute, "every outbox acked", func() bool {
		for _, s := range everyone {
			if !noPending(s) {
				return false
			}
		}
		return true
	}, func() string { return describeStuck(everyone, noPending) + serverDump(p) })
	awaitCaughtUp(t, prof, convs, students, "every student caught up", p)
	quietFrom := time.Now()
	sleepCtx(context.Background(), 3*time.Second) // a quiet window to measure idle CPU (not synchronizing)
	stopSampling()
	if err := <-sampled; err != nil {
		t.Fatalf("sampling the server: %v", err)
	}
	goroutinesAfter, _, _ := pprofCounts(p.pprof, false)
	stopConns()
	conns.Wait()

	var faults []string
	closes := map[int]int{}
	for _, s := range everyone {
		s.mu.Lock()
		faults = append(faults, s.faults...)
		for c, k := range s.closes {
			closes[c] += k
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
	checkStored(t, prof, convs, everyone)

	// Bounded: the server's memory through the storm, and no spinning once it
	// is over (CPU time in the quiet window, which other load on the machine
	// does not inflate).
	var before, peak, quietStart, quietEnd sample
	for _, s := range samples {
		at := start.Add(s.at)
		if at.Before(cutAt) {
			before = s
		}
		if s.rss > peak.rss {
			peak = s
		}
		if quietStart.at == 0 && !at.Before(quietFrom) {
			quietStart = s
		}
		quietEnd = s
	}
	idleCPU := (quietEnd.cpu - quietStart.cpu).Seconds() / max(0.001, (quietEnd.at-quietStart.at).Seconds())
	stormCPU := quietStart.cpu - before.cpu
	t.Logf("%d guests joined in %s; %d students (+1 wired) connected in %s; reset cut %d connections (silent=%v); all %d resumed %s after the reset",
		n, connectStart.Sub(setupStart).Round(time.Millisecond), n, connectTook.Round(time.Millisecond), cut, silent, n, converged.Round(time.Millisecond))
	t.Logf("server RSS %.1f MiB before the reset, peak %.1f MiB at +%.1f s; CPU %.1f s from the reset to quiet; %.0f%% of a core when quiet; goroutines %d before, %d after; closes seen %v",
		mib(before.rss), mib(peak.rss), start.Add(peak.at).Sub(cutAt).Seconds(), stormCPU.Seconds(), 100*idleCPU, goroutinesBefore, goroutinesAfter, closes)
	if limit := 2*before.rss + 256<<20; peak.rss > limit {
		t.Errorf("server RSS peaked at %.1f MiB, over 2× its %.1f MiB before the reset + 256 MiB", mib(peak.rss), mib(before.rss))
	}
	if idleCPU > 0.5 {
		t.Errorf("the server used %.0f%% of a core with the class idle after the storm: something spins", 100*idleCPU)
	}
	if curve {
		printStormCurve(t, students, samples, start, cutAt)
	}
}

// printStormCurve logs a table: per half second after the reset, students
// reconnected (ready) and resumed (every subscription answered), server RSS and
// CPU over the interval.
func printStormCurve(t *testing.T, students []*student, samples []sample, start, cutAt time.Time) {
	var ready, resumed []time.Duration
	for _, s := range students {
		s.mu.Lock()
		if r, ok := s.firstReadyAfter(cutAt); ok {
			ready = append(ready, r.Sub(cutAt))
		}
		if r, ok := s.firstAfter(cutAt); ok {
			resumed = append(resumed, r.Sub(cutAt))
		}
		s.mu.Unlock()
	}
	slices.Sort(ready)
	slices.Sort(resumed)
	count := func(v []time.Duration, at time.Duration) int {
		i, _ := slices.BinarySearch(v, at+1)
		return i
	}
	pct := func(v []time.Duration, q float64) time.Duration {
		if len(v) == 0 {
			return 0
		}
		return v[min(len(v)-1, int(q*float64(len(v))))]
	}
	t.Logf("resumed after the reset: p50 %s, p90 %s, p99 %s, last %s",
		pct(resumed, 0.5).Round(10*time.Millisecond), pct(resumed, 0.9).Round(10*time.Millisecond),
		pct(resumed, 0.99).Round(10*time.Millisecond), resumed[len(resumed)-1].Round(10*time.Millisecond))
	var b strings.Builder
	b.WriteString("\n| s after reset | reconnected | resumed | server RSS MiB | server CPU (% of a core) |\n|---|---|---|---|---|\n")
	var prev *sample
	step, next := 500*time.Millisecond, -2*time.Second
	for i := range samples {
		s := &samples[i]
		rel := start.Add(s.at).Sub(cutAt)
		if rel < next {
			continue
		}
		cpu := 0.0
		if prev != nil {
			cpu = 100 * (s.cpu - prev.cpu).Seconds() / (s.at - prev.at).Seconds()
		}
		fmt.Fprintf(&b, "| %+.1f | %d | %d | %.1f | %.0f |\n", rel.Seconds(), count(ready, rel), count(resumed, rel), mib(s.rss), cpu)
		prev = s
		if count(resumed, rel) == len(students) {
			step = 2 * time.Second // after the storm: coarser
		}
		next = rel + step
	}
	t.Log(b.String())
}
