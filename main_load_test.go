package main

// Helpers for the fault-at-scale tests of the built binary (reconnect storm,
// soak): a student client that behaves like the web client (reconnect with
// backoff, resume every subscription by after_seq, resend its outbox with the
// same client_ids) and checks its own stream for gaps and duplicates; samples of
// the server process from /proc and its opt-in pprof listener; a least-squares
// slope.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// backoffDelay is the web client's reconnect schedule (backoffDelay in
// frontend/src/lib/api.ts): exponential backoff with full jitter, uniform in
// [0, min(cap, base·2^(attempt-1))], base 500 ms, cap 30 s; attempt counts the
// failures since the last `ready` (it is reset to 0 there).
func backoffDelay(attempt int, random func() float64) time.Duration {
	const base, limit = 500.0, 30_000.0
	exp := math.Min(limit, base*math.Pow(2, float64(max(0, min(attempt-1, 30)))))
	return time.Duration(math.Floor(random()*exp)) * time.Millisecond
}

// profiled is a running server with its pprof listener (--pprof).
type profiled struct {
	*proc
	pprof string // http://127.0.0.1:PORT/debug/pprof
	pid   int
}

var pprofRE = regexp.MustCompile(`msg="pprof listening" addr=(127\.0\.0\.1:\d+)`)

func startProfiled(t *testing.T, data string, extra ...string) *profiled {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--no-mdns", "--msg-rate", "0", "--pprof", "127.0.0.1:0"}, extra...)
	p := &profiled{proc: launch(t, args)}
	p.pid = p.cmd.Process.Pid
	logs := p.logs
	// The listener is up before the URL is printed; its address is in the log.
	waitFor(t, 10*time.Second, "the pprof address in the server's log", func() bool {
		m := pprofRE.FindStringSubmatch(logs.String())
		if m != nil {
			p.pprof = "http://" + m[1] + "/debug/pprof"
		}
		return m != nil
	})
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			// Its errors and warnings, not the thousands of connection lines.
			var keep []string
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN") {
					keep = append(keep, line)
				}
			}
			if len(keep) > 60 {
				keep = append(keep[:30], append([]string{"…"}, keep[len(keep)-30:]...)...)
			}
			t.Logf("server errors and warnings:\n%s", strings.Join(keep, "\n"))
		}
	})
	return p
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// sample is one look at the server process.
type sample struct {
	at         time.Duration // since the start of the run
	cpu        time.Duration // user+system CPU time used so far
	rss        int64         // bytes
	fds        int
	goroutines int   // -1 when not read
	heap       int64 // live heap after a GC (bytes), -1 when not read
	online     int   // client connections open at the time (the test's own count)
}

// clockTick is USER_HZ, 100 on every Linux this runs on (sysconf needs cgo).
const clockTick = 10 * time.Millisecond

func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesized command name: state is field 3, utime 14, stime 15.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc stat: %q", b)
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * clockTick, nil
}

func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

func procFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents), err
}

var (
	goroutineRE = regexp.MustCompile(`goroutine profile: total (\d+)`)
	heapAllocRE = regexp.MustCompile(`# HeapAlloc = (\d+)`)
)

// pprofCounts reads the goroutine count and, when withHeap, the live heap after
// a GC (heap profile with gc=1) from the server's pprof listener.
func pprofCounts(base string, withHeap bool) (goroutines int, heap int64, err error) {
	get := func(path string) (string, error) {
		res, err := http.Get(base + path)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			return "", fmt.Errorf("%s: %d", path, res.StatusCode)
		}
		return string(b), err
	}
	heap = -1
	g, err := get("/goroutine?debug=1")
	if err != nil {
		return 0, 0, err
	}
	m := goroutineRE.FindStringSubmatch(g)
	if m == nil {
		return 0, 0, fmt.Errorf("no goroutine total in %.200q", g)
	}
	goroutines, _ = strconv.Atoi(m[1])
	if withHeap {
		h, err := get("/heap?debug=1&gc=1")
		if err != nil {
			return 0, 0, err
		}
		m := heapAllocRE.FindStringSubmatch(h)
		if m == nil {
			return 0, 0, fmt.Errorf("no HeapAlloc in the heap profile")
		}
		heap, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return goroutines, heap, nil
}

// sampleServer reads everything; pprof may be "" to skip goroutines and heap.
func sampleServer(p *profiled, start time.Time, withHeap bool) (sample, error) {
	s := sample{at: time.Since(start), goroutines: -1, heap: -1}
	var err error
	if s.cpu, err = procCPU(p.pid); err != nil {
		return s, err
	}
	if s.rss, err = procRSS(p.pid); err != nil {
		return s, err
	}
	if s.fds, err = procFDs(p.pid); err != nil {
		return s, err
	}
	if p.pprof != "" {
		if s.goroutines, s.heap, err = pprofCounts(p.pprof, withHeap); err != nil {
			return s, err
		}
	}
	return s, nil
}

// slope is the least-squares slope of ys over xs (per unit of x).
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// ---- accounts and conversations over REST ----

// api is a tiny REST client with a Bearer token.
type api struct {
	base, tok string
}

// restSlowest is the slowest REST call since it was last reset (nanoseconds).
var restSlowest atomic.Int64

var restClient = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func (a api) do(method, path string, body any, out any) (int, error) {
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ctype = bytes.NewReader(b), "text/plain"
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return 0, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	if a.tok != "" {
		req.Header.Set("Authorization", "Bearer "+a.tok)
	}
	began := time.Now()
	defer func() {
		d := int64(time.Since(began))
		for {
			cur := restSlowest.Load()
			if d <= cur || restSlowest.CompareAndSwap(cur, d) {
				return
			}
		}
	}()
	res, err := restClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if res.StatusCode/100 != 2 {
		return res.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, data)
	}
	if out != nil {
		return res.StatusCode, json.Unmarshal(data, out)
	}
	return res.StatusCode, nil
}

// classroom prepares a server for many students: guest access on, and convs
// group conversations besides General, every one auto-joined by new accounts.
func classroom(t *testing.T, base string, convs int) (prof api, joinCode string, ids []int64) {
	t.Helper()
	prof = api{base: base, tok: token(t, base, "prof")}
	var set struct {
		JoinCode string `json:"join_code"`
	}
	if _, err := prof.do("PATCH", "/api/v1/settings", map[string]any{"guest_access": true}, &set); err != nil {
		t.Fatal(err)
	}
	ids = []int64{1}
	for i := 1; i < convs; i++ {
		var c struct {
			ID int64 `json:"id"`
		}
		if _, err := prof.do("POST", "/api/v1/conversations", map[string]any{"name": fmt.Sprintf("Group %d", i)}, &c); err != nil {
			t.Fatal(err)
		}
		if _, err := prof.do("PATCH", fmt.Sprintf("/api/v1/conversations/%d", c.ID), map[string]any{"auto_join": true}, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	return prof, set.JoinCode, ids
}

// guest joins the class as a guest: a token and the user's id.
func guest(base, code, name string) (string, int64, error) {
	var out struct {
		AccessToken string `json:"access_token"`
		User        struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	_, err := api{base: base}.do("POST", "/api/v1/auth/guest", map[string]any{"display_name": name, "join_code": code}, &out)
	return out.AccessToken, out.User.ID, err
}

// studentIP is a loopback source address of its own for student i, so the
// server sees one client address per student as in a classroom, and its
// per-address connection cap stays on.
func studentIP(i int) net.IP {
	return net.IPv4(127, byte(1+i/60000), byte(i/250%240), byte(1+i%250))
}

// ---- the student client ----

type pendingSend struct {
	conv   int64
	body   string
	attach []int64
}

// student is one web client: its subscriptions with the last contiguous seq
// seen, its outbox, and what it observed.
type student struct {
	name string
	tok  string
	uid  int64
	ip   net.IP
	ws   string // ws://host:port/api/v1/ws (the server, or a proxy in front of it)
	rest string // http://host:port for REST catch-up (has_more)

	mu       sync.Mutex
	conn     *websocket.Conn
	ready    bool
	subs     map[int64]int64 // conversation → last seq seen in order; -1 = subscribe live-only
	awaiting map[int64]bool  // subscribe sent on this connection, subscribed not yet seen
	outbox   map[string]pendingSend
	order    []string // outbox in send order
	acked    map[string]int64
	refused  map[string]string
	faults   []string    // gaps, duplicates, wrong last_seq
	readies  int         // connections that reached ready
	closes   map[int]int // close codes (1006 when the TCP connection just died)
	// offlineUntil keeps the student away after it closed its tab.
	offlineUntil time.Time
	uploads      map[int64]int // attachment id → size, for downloads
	retired      bool          // left the class (soak)
	readyTimes   []time.Time   // when each connection reached ready
	resumeTimes  []time.Time   // when each connection had every subscription answered
	wmu          sync.Mutex
	seq          int
}

func newStudent(name, tok string, uid int64, ip net.IP, wsURL, rest string, convs ...int64) *student {
	s := &student{name: name, tok: tok, uid: uid, ip: ip, ws: wsURL, rest: rest,
		subs: map[int64]int64{}, awaiting: map[int64]bool{}, outbox: map[string]pendingSend{},
		acked: map[string]int64{}, refused: map[string]string{}, closes: map[int]int{}, uploads: map[int64]int{}}
	for _, c := range convs {
		s.subs[c] = -1
	}
	return s
}

func (s *student) fault(format string, a ...any) {
	s.faults = append(s.faults, s.name+": "+fmt.Sprintf(format, a...))
}

// run keeps the student connected until ctx ends, like ChatSocket: after a
// connection ends, attempt++ and wait backoffDelay(attempt); `ready` resets attempt.
func (s *student) run(ctx context.Context, rng *rand.Rand) {
	attempt := 0
	for ctx.Err() == nil {
		s.mu.Lock()
		wait := time.Until(s.offlineUntil)
		s.mu.Unlock()
		if wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		if s.connectOnce(ctx) {
			attempt = 0
		}
		if ctx.Err() != nil {
			return
		}
		attempt++
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoffDelay(attempt, rng.Float64)):
		}
	}
}

// connectOnce runs one connection until it ends; true when it reached ready.
func (s *student) connectOnce(ctx context.Context) bool {
	d := websocket.Dialer{
		NetDialContext:   (&net.Dialer{LocalAddr: &net.TCPAddr{IP: s.ip}}).DialContext,
		HandshakeTimeout: 10 * time.Second,
	}
	conn, _, err := d.DialContext(ctx, s.ws, http.Header{"Authorization": {"Bearer " + s.tok}})
	if err != nil {
		s.mu.Lock()
		s.closes[-1]++ // could not connect
		s.mu.Unlock()
		return false
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	s.mu.Lock()
	s.conn = conn
	s.mu.Unlock()
	reached := false
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			code := websocket.CloseAbnormalClosure
			if ce, ok := err.(*websocket.CloseError); ok {
				code = ce.Code
			}
			s.mu.Lock()
			s.conn, s.ready = nil, false
			s.closes[code]++
			s.mu.Unlock()
			return reached
		}
		if s.handle(conn, data) {
			reached = true
		}
	}
}

type inFrame struct {
	Type           string `json:"type"`
	ConversationID int64  `json:"conversation_id"`
	LastSeq        int64  `json:"last_seq"`
	HasMore        bool   `json:"has_more"`
	ClientID       string `json:"client_id"`
	Code           string `json:"code"`
	Message        struct {
		ConversationID int64  `json:"conversation_id"`
		Seq            int64  `json:"seq"`
		ClientID       string `json:"client_id"`
		Sender         struct {
			ID int64 `json:"id"`
		} `json:"sender"`
	} `json:"message"`
	// error frames carry their text in "message" too; it is not decoded here.
}

// handle processes one frame; true for `ready`.
func (s *student) handle(conn *websocket.Conn, data []byte) bool {
	var f inFrame
	if err := json.Unmarshal(data, &f); err != nil {
		// An error frame's "message" is a string: decode it on its own.
		var e struct{ Type, Code, Message, ClientID string }
		if json.Unmarshal(data, &e) == nil && e.Type == "error" {
			s.mu.Lock()
			// A second copy of a send already acked may be refused (e.g. after
			// leaving the conversation): the ack stands.
			if _, acked := s.acked[e.ClientID]; e.ClientID != "" && !acked {
				s.refused[e.ClientID] = e.Code + ": " + e.Message
				s.dropPending(e.ClientID)
			}
			s.mu.Unlock()
		}
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch f.Type {
	case "ready":
		s.ready = true
		s.readies++
		s.readyTimes = append(s.readyTimes, time.Now())
		s.awaiting = map[int64]bool{}
		// As ChatSocket does on ready: resume each subscription from its last
		// seen seq, then resend the outbox with the same client_ids.
		for c, last := range s.subs {
			fr := map[string]any{"type": "subscribe", "conversation_id": c}
			if last >= 0 {
				fr["after_seq"] = last
			}
			s.awaiting[c] = true
			s.writeLocked(conn, fr)
		}
		for _, id := range s.order {
			s.writeLocked(conn, s.sendFrame(id))
		}
		if len(s.subs) == 0 {
			s.resumed()
		}
		return true
	case "message":
		c := f.Message.ConversationID
		last, ok := s.subs[c]
		if !ok || last < 0 {
			return false // not following (left, or live-only subscribe not answered yet)
		}
		s.observe(c, f.Message.Seq)
		if f.Message.ClientID != "" && f.Message.Sender.ID == s.uid {
			if _, mine := s.outbox[f.Message.ClientID]; mine {
				s.acked[f.Message.ClientID] = f.Message.Seq
				s.dropPending(f.Message.ClientID)
			}
		}
	case "subscribed":
		c := f.ConversationID
		last, ok := s.subs[c]
		if !ok || !s.awaiting[c] {
			return false
		}
		delete(s.awaiting, c)
		switch {
		case last < 0:
			s.subs[c] = f.LastSeq
		case f.HasMore:
			// The backlog stopped at 1,000: fetch the rest up to last_seq over REST
			// (as the web client does), checking order on the way.
			s.mu.Unlock()
			msgs, err := fetchRange(s.rest, s.tok, c, last, f.LastSeq)
			s.mu.Lock()
			if err != nil {
				s.fault("conversation %d: catching up after has_more: %v", c, err)
			}
			for _, m := range msgs {
				s.observe(c, m)
			}
		case f.LastSeq != last:
			s.fault("conversation %d: subscribed at last_seq %d after the backlog, client is at %d", c, f.LastSeq, last)
			s.subs[c] = max(last, f.LastSeq)
		}
		if len(s.awaiting) == 0 {
			s.resumed()
		}
	case "ack":
		if prev, ok := s.acked[f.ClientID]; ok && prev != f.Message.Seq {
			s.fault("%s acked with seq %d, earlier %d", f.ClientID, f.Message.Seq, prev)
		}
		s.acked[f.ClientID] = f.Message.Seq
		s.dropPending(f.ClientID)
	}
	return false
}

// observe checks that seq follows the last one seen in conversation c.
func (s *student) observe(c, seq int64) {
	last := s.subs[c]
	switch {
	case seq == last+1:
		s.subs[c] = seq
	case seq <= last:
		s.fault("conversation %d: seq %d again (at %d): duplicate", c, seq, last)
	default:
		s.fault("conversation %d: seq %d after %d: gap", c, seq, last)
		s.subs[c] = seq
	}
}

func (s *student) resumed() {
	s.resumeTimes = append(s.resumeTimes, time.Now())
}

// firstAfter is the first time after t that the student had resumed; s.mu is held.
func (s *student) firstAfter(t time.Time) (time.Time, bool) { return firstAfter(s.resumeTimes, t) }

// firstReadyAfter is the first ready after t; s.mu is held.
func (s *student) firstReadyAfter(t time.Time) (time.Time, bool) { return firstAfter(s.readyTimes, t) }

func firstAfter(ts []time.Time, t time.Time) (time.Time, bool) {
	for _, x := range ts {
		if x.After(t) {
			return x, true
		}
	}
	return time.Time{}, false
}

func (s *student) dropPending(id string) {
	if _, ok := s.outbox[id]; !ok {
		return
	}
	delete(s.outbox, id)
	for i, o := range s.order {
		if o == id {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}

func (s *student) sendFrame(id string) map[string]any {
	p := s.outbox[id]
	fr := map[string]any{"type": "send", "conversation_id": p.conv, "client_id": id, "body": p.body}
	if len(p.attach) > 0 {
		fr["attachment_ids"] = p.attach
	}
	return fr
}

// writeLocked writes a frame on conn; s.mu is held. A failed write is left to
// the reader, which sees the connection end.
func (s *student) writeLocked(conn *websocket.Conn, fr any) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_ = conn.WriteJSON(fr)
}

// send queues a message (sent now when connected, else after the next ready).
func (s *student) send(conv int64, body string, attach ...int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := fmt.Sprintf("%s-%d", s.name, s.seq)
	s.outbox[id] = pendingSend{conv: conv, body: body, attach: attach}
	s.order = append(s.order, id)
	if s.ready && s.conn != nil {
		s.writeLocked(s.conn, s.sendFrame(id))
	}
	return id
}

// frame writes any frame when connected (typing, read); false when offline.
func (s *student) frame(fr any) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready || s.conn == nil {
		return false
	}
	s.writeLocked(s.conn, fr)
	return true
}

// drop ends the current connection: abrupt closes the TCP connection with no
// close frame (a phone leaving the Wi-Fi), otherwise a normal close (tab closed).
func (s *student) drop(abrupt bool) {
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn == nil {
		return
	}
	if abrupt {
		conn.NetConn().Close()
		return
	}
	s.wmu.Lock()
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(5*time.Second))
	s.wmu.Unlock()
}

func (s *student) pendingCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.outbox)
}

func (s *student) online() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready && len(s.awaiting) == 0
}

// fetchRange reads the seqs in (after, upto] of a conversation over REST.
func fetchRange(base, tok string, conv, after, upto int64) ([]int64, error) {
	var seqs []int64
	for after < upto {
		var page struct {
			Messages []struct {
				Seq int64 `json:"seq"`
			} `json:"messages"`
			HasMore bool `json:"has_more"`
		}
		if _, err := (api{base: base, tok: tok}).do("GET", fmt.Sprintf("/api/v1/conversations/%d/messages?after_seq=%d&limit=200", conv, after), nil, &page); err != nil {
			return seqs, err
		}
		if len(page.Messages) == 0 {
			break
		}
		for _, m := range page.Messages {
			if m.Seq > upto {
				return seqs, nil
			}
			seqs = append(seqs, m.Seq)
			after = m.Seq
		}
		if !page.HasMore {
			break
		}
	}
	return seqs, nil
}

// storedMessages reads every message of a conversation (as the admin).
func storedMessages(t *testing.T, prof api, conv int64) []stored {
	t.Helper()
	var all []stored
	after := int64(0)
	for {
		var page struct {
			Messages []stored `json:"messages"`
			HasMore  bool     `json:"has_more"`
		}
		if _, err := prof.do("GET", fmt.Sprintf("/api/v1/conversations/%d/messages?after_seq=%d&limit=200", conv, after), nil, &page); err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Messages...)
		if !page.HasMore || len(page.Messages) == 0 {
			return all
		}
		after = page.Messages[len(page.Messages)-1].Seq
	}
}

// checkStored verifies every conversation against what the students saw:
// seqs contiguous from 1, every acked client_id stored exactly once at its
// acked seq, nothing stored that nobody sent, nothing refused stored. Pending
// sends (never acked) may be stored at most once. It answers the heads.
func checkStored(t *testing.T, prof api, convs []int64, students []*student) map[int64]int64 {
	t.Helper()
	type where struct {
		conv, seq int64
	}
	storedAt := map[string][]where{}
	heads := map[int64]int64{}
	for _, c := range convs {
		msgs := storedMessages(t, prof, c)
		for i, m := range msgs {
			if m.Seq != int64(i+1) {
				t.Fatalf("conversation %d: seq %d at position %d: not contiguous", c, m.Seq, i)
			}
			if m.ClientID != "" {
				storedAt[m.ClientID] = append(storedAt[m.ClientID], where{c, m.Seq})
			}
		}
		heads[c] = int64(len(msgs))
	}
	known := map[string]bool{}
	for _, s := range students {
		s.mu.Lock()
		for id, seq := range s.acked {
			known[id] = true
			w := storedAt[id]
			if len(w) != 1 || w[0].seq != seq {
				t.Errorf("%s: acked with seq %d, stored at %v", id, seq, w)
			}
		}
		for id, why := range s.refused {
			known[id] = true
			if len(storedAt[id]) != 0 {
				t.Errorf("%s: refused (%s) but stored at %v", id, why, storedAt[id])
			}
		}
		for id := range s.outbox {
			known[id] = true
			if len(storedAt[id]) > 1 {
				t.Errorf("%s: pending, stored %d times", id, len(storedAt[id]))
			}
		}
		s.mu.Unlock()
	}
	for id, w := range storedAt {
		if !known[id] {
			t.Errorf("%s stored at %v but nobody sent it", id, w)
		}
	}
	return heads
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	waitForOr(t, within, what, cond, nil)
}

// waitForOr is waitFor that says what detail() tells when it gives up.
func waitForOr(t *testing.T, within time.Duration, what string, cond func() bool, detail func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			if detail != nil {
				t.Fatalf("not within %s: %s\n%s", within, what, detail())
			}
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition, not synchronizing
	}
}

// caughtUp: the student has seen every conversation it follows up to heads.
func caughtUp(s *student, heads map[int64]int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, last := range s.subs {
		if last != heads[c] {
			return false
		}
	}
	return true
}

// awaitCaughtUp reads each conversation's last seq and waits until every
// student has delivered it in each conversation it follows; it returns those seqs.
func awaitCaughtUp(t *testing.T, prof api, convs []int64, students []*student, what string, p *profiled) map[int64]int64 {
	t.Helper()
	heads := map[int64]int64{}
	for _, c := range convs {
		var conv struct {
			LastSeq int64 `json:"last_seq"`
		}
		if _, err := prof.do("GET", fmt.Sprintf("/api/v1/conversations/%d", c), nil, &conv); err != nil {
			t.Fatal(err)
		}
		heads[c] = conv.LastSeq
	}
	caught := func(s *student) bool { return caughtUp(s, heads) }
	waitForOr(t, 2*time.Minute, what, func() bool {
		for _, s := range students {
			if !caught(s) {
				return false
			}
		}
		return true
	}, func() string { return describeStuck(students, caught) + serverDump(p) })
	return heads
}

// describeStuck reports the students for which ok is false (up to five).
func describeStuck(students []*student, ok func(*student) bool) string {
	var b strings.Builder
	n := 0
	for _, s := range students {
		if ok(s) {
			continue
		}
		n++
		if n <= 5 {
			s.mu.Lock()
			var lastReady time.Time
			if len(s.readyTimes) > 0 {
				lastReady = s.readyTimes[len(s.readyTimes)-1]
			}
			fmt.Fprintf(&b, "  %s: ready %v, connected %v, awaiting %v, subs %v, %d pending, %d readies (last %s ago), closes %v, faults %d\n",
				s.name, s.ready, s.conn != nil, s.awaiting, s.subs, len(s.outbox), s.readies,
				time.Since(lastReady).Round(time.Millisecond), s.closes, len(s.faults))
			s.mu.Unlock()
		}
	}
	fmt.Fprintf(&b, "  %d of %d students so", n, len(students))
	return b.String()
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
