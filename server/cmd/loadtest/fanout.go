package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
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

// target is a server under test that has one conversation (Team Chat) or
// channel (Centrifugo) every client follows. The same driver code measures
// both, so their figures compare.
type target interface {
	name() string
	// dial opens client i's connection, authenticated and subscribed.
	dial(i int) (*websocket.Conn, error)
	// publish is the frame with which client i posts body.
	publish(i, n int, body string) []byte
	// control answers a server frame that needs an answer (Centrifugo's
	// application-level ping); nil when none.
	control(data []byte) []byte
	pid() int
	stop()
}

// targetFactory starts a fresh server with at least n accounts.
type targetFactory func(n int) (target, error)

// bodyFor is a 100-byte message body carrying its send time; the marker lets
// the reader find it in any framing (one frame per message or batched).
func bodyFor(t time.Time) string {
	b := "@@" + strconv.FormatInt(t.UnixNano(), 10) + " "
	return b + strings.Repeat("x", 100-len(b))
}

var (
	marker  = []byte("@@")
	ackType = []byte(`"type":"ack"`)
)

// stamps calls f with the send time of every message body in data.
func stamps(data []byte, f func(int64)) {
	for {
		i := bytes.Index(data, marker)
		if i < 0 {
			return
		}
		data = data[i+2:]
		var ts int64
		j := 0
		for ; j < len(data) && data[j] >= '0' && data[j] <= '9'; j++ {
			ts = ts*10 + int64(data[j]-'0')
		}
		if j > 0 {
			f(ts)
		}
		data = data[j:]
	}
}

// hist is a latency histogram with 50 µs buckets up to 10 s; lock-free so
// thousands of readers can record into it.
type hist struct {
	b     [200001]atomic.Int64
	n     atomic.Int64
	max   atomic.Int64
	armed atomic.Bool
}

const bucket = 50 * time.Microsecond

func (h *hist) add(d time.Duration) {
	if !h.armed.Load() {
		return
	}
	i := min(max(int(d/bucket), 0), len(h.b)-1)
	h.b[i].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			break
		}
	}
}

func (h *hist) reset() {
	for i := range h.b {
		h.b[i].Store(0)
	}
	h.n.Store(0)
	h.max.Store(0)
}

func (h *hist) pct(p float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	want := int64(math.Ceil(float64(n) * p))
	var seen int64
	for i := range h.b {
		seen += h.b[i].Load()
		if seen >= want {
			return time.Duration(i+1) * bucket
		}
	}
	return time.Duration(h.max.Load())
}

// rig is a set of connected clients; the first senders of them send, the
// others measure delivery.
type rig struct {
	t         target
	conns     []*websocket.Conn
	wmu       []sync.Mutex
	senders   int
	lat       hist
	ack       hist         // Team Chat: send → ack (committed), at the senders
	evicted   atomic.Int64 // closed by the server with 4008
	closed    atomic.Int64 // any other end seen by the reader
	failed    atomic.Int64 // could not connect (other than 4008)
	errs      atomic.Int64 // error answers (a refused send)
	lastErr   atomic.Value
	wg        sync.WaitGroup
	shutdown  atomic.Bool
	connectIn time.Duration
	seq       atomic.Int64 // numbers every message sent (client ids stay unique across phases)
}

// connectBudget bounds a connect scenario; clients not dialled by then count as failed.
const connectBudget = 3 * time.Minute

// connect dials n clients, a few at a time, and starts their readers. With
// tolerate, a client that fails is counted (evicted on arrival, or failed)
// and the others go on.
func connect(t target, n, senders int, tolerate bool) (*rig, error) {
	r := &rig{t: t, conns: make([]*websocket.Conn, n), wmu: make([]sync.Mutex, n), senders: senders}
	t0 := time.Now()
	var next atomic.Int64
	var firstErr error
	var emu sync.Mutex
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if tolerate && time.Since(t0) > connectBudget {
					r.failed.Add(1) // not tried: the connect took too long
					continue
				}
				c, err := t.dial(i)
				if err != nil && tolerate {
					var ce *websocket.CloseError
					if errors.As(err, &ce) && ce.Code == 4008 {
						r.evicted.Add(1)
					} else {
						r.failed.Add(1)
					}
					continue
				}
				if err != nil {
					emu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("client %d: %w", i, err)
					}
					emu.Unlock()
					return
				}
				r.conns[i] = c
				r.wg.Add(1)
				go r.read(i, i >= senders)
			}
		}()
	}
	wg.Wait()
	r.connectIn = time.Since(t0)
	if firstErr != nil {
		r.close()
		return nil, firstErr
	}
	return r, nil
}

func (r *rig) read(i int, measure bool) {
	defer r.wg.Done()
	c := r.conns[i]
	buf := make([]byte, 0, 4096) // reused: the driver should cost the same for every server
	for {
		data, err := readInto(c, buf[:0])
		buf = data[:0]
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code == 4008 {
				r.evicted.Add(1)
			} else if !r.shutdown.Load() {
				r.closed.Add(1)
			}
			return
		}
		if ans := r.t.control(data); ans != nil {
			r.write(i, ans) // and the rest of the message is measured as usual
		}
		if bytes.Contains(data, []byte(`"type":"error"`)) || bytes.Contains(data, []byte(`"error":{`)) {
			r.errs.Add(1)
			r.lastErr.Store(string(data))
		}
		if measure {
			now := time.Now().UnixNano()
			stamps(data, func(ts int64) { r.lat.add(time.Duration(now - ts)) })
		} else if bytes.Contains(data, ackType) {
			now := time.Now().UnixNano()
			for _, line := range bytes.Split(data, []byte("\n")) {
				if bytes.Contains(line, ackType) {
					stamps(line, func(ts int64) { r.ack.add(time.Duration(now - ts)) })
				}
			}
		}
	}
}

// readInto reads one message into buf (grown as needed).
func readInto(c *websocket.Conn, buf []byte) ([]byte, error) {
	_, rd, err := c.NextReader()
	if err != nil {
		return buf, err
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (r *rig) write(i int, data []byte) error {
	r.wmu[i].Lock()
	defer r.wmu[i].Unlock()
	_ = r.conns[i].SetWriteDeadline(time.Now().Add(10 * time.Second))
	return r.conns[i].WriteMessage(websocket.TextMessage, data)
}

// run sends rate messages/s in total, spread evenly over the senders, for dur,
// then waits for the last deliveries; the histogram holds this phase only.
func (r *rig) run(rate float64, dur time.Duration) (sent int64) {
	r.lat.reset()
	r.ack.reset()
	r.lat.armed.Store(true)
	r.ack.armed.Store(true)
	period := time.Duration(float64(time.Second) * float64(r.senders) / rate)
	stopAt := time.Now().Add(dur)
	var n atomic.Int64
	var wg sync.WaitGroup
	for s := range r.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(s) * period / time.Duration(r.senders))
			tick := time.NewTicker(period)
			defer tick.Stop()
			for time.Now().Before(stopAt) {
				if r.write(s, r.t.publish(s, int(r.seq.Add(1)), bodyFor(time.Now()))) != nil {
					return
				}
				n.Add(1)
				<-tick.C
			}
		}()
	}
	wg.Wait()
	time.Sleep(time.Second) // the last messages arrive
	r.lat.armed.Store(false)
	r.ack.armed.Store(false)
	return n.Load()
}

func (r *rig) open() int {
	return len(r.conns) - int(r.evicted.Load()) - int(r.closed.Load()) - int(r.failed.Load())
}

func (r *rig) close() {
	r.shutdown.Store(true)
	for _, c := range r.conns {
		if c != nil {
			c.Close()
		}
	}
	r.wg.Wait()
}

// result rows, per target, printed side by side at the end.
type results struct {
	names []string
	rows  []string
	cells map[string]map[string]string
}

func (rs *results) set(target, row, value string) {
	if rs.cells == nil {
		rs.cells = map[string]map[string]string{}
	}
	if rs.cells[row] == nil {
		rs.cells[row] = map[string]string{}
		rs.rows = append(rs.rows, row)
	}
	rs.cells[row][target] = value
	for _, n := range rs.names {
		if n == target {
			return
		}
	}
	rs.names = append(rs.names, target)
}

func (rs *results) print() {
	fmt.Printf("## Fan-out on one conversation (100-byte bodies, same driver for every server)\n\n")
	fmt.Printf("| figure | %s |\n|---|%s\n", strings.Join(rs.names, " | "), strings.Repeat("---|", len(rs.names)))
	for _, row := range rs.rows {
		vals := make([]string, len(rs.names))
		for i, n := range rs.names {
			vals[i] = rs.cells[row][n]
			if vals[i] == "" {
				vals[i] = "—"
			}
		}
		fmt.Printf("| %s | %s |\n", row, strings.Join(vals, " | "))
	}
	fmt.Println()
}

func msf(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// profile saves a CPU profile of the server's next d, when -profile is set.
var profileDir string

func profile(t target, label string, d time.Duration) {
	tc, ok := t.(*teamchat)
	if profileDir == "" || !ok || tc.pprof == "" {
		return
	}
	go func() {
		url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", tc.pprof, int(d.Seconds()))
		if err := fetchTo(url, filepath.Join(profileDir, slug(t)+label+".cpu.pprof")); err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
		}
	}()
}

func slug(t target) string { return strings.ReplaceAll(strings.ToLower(t.name()), " ", "-") + "." }

// heapProfile saves the server's heap (in use, and allocations since start) now.
func heapProfile(t target, label string) {
	tc, ok := t.(*teamchat)
	if profileDir == "" || !ok || tc.pprof == "" {
		return
	}
	for _, p := range []struct{ path, file string }{{"heap", ".heap.pprof"}, {"allocs", ".allocs.pprof"}} {
		if err := fetchTo("http://"+tc.pprof+"/debug/pprof/"+p.path, filepath.Join(profileDir, slug(t)+label+p.file)); err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
		}
	}
}

// connectScenario connects n clients subscribed to the one conversation,
// leaves them idle and reports time, evictions and memory per connection.
func connectScenario(rs *results, f targetFactory, n int, idle time.Duration) error {
	t, err := f(n)
	if err != nil {
		return err
	}
	defer t.stop()
	time.Sleep(2 * time.Second) // start-up garbage settles before the baseline
	_, before := procStat(t.pid())
	profile(t, fmt.Sprintf("connect%d", n), 4*time.Second)
	r, err := connect(t, n, 0, true)
	if err != nil {
		return err
	}
	connected := r.connectIn
	time.Sleep(idle)
	_, after := procStat(t.pid())
	heapProfile(t, fmt.Sprintf("connect%d", n))
	if tc, ok := t.(*teamchat); ok {
		if m := memStats(tc.pprof); m != "" {
			rs.set(t.name(), label(n)+": Go heap / stacks in use", m)
		}
	}
	open := r.open()
	ev := r.evicted.Load()
	r.close()
	label := label(n)
	rs.set(t.name(), label+": connect + subscribe time", fmt.Sprintf("%.1f s", connected.Seconds()))
	rs.set(t.name(), label+": evicted (4008) / failed / still open after "+idle.String()+" idle", fmt.Sprintf("%d / %d / %d", ev, r.failed.Load(), open))
	rs.set(t.name(), label+": RSS per idle connection", fmt.Sprintf("%.1f KiB", float64(after-before)/float64(n)/1024))
	return nil
}

func label(n int) string { return fmt.Sprintf("%d clients", n) }

// memStats reads the heap and stack figures of a server's /debug/pprof/heap.
func memStats(pprofAddr string) string {
	res, err := http.Get("http://" + pprofAddr + "/debug/pprof/heap?debug=1")
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	get := func(k string) float64 {
		i := bytes.Index(data, []byte("# "+k+" = "))
		if i < 0 {
			return 0
		}
		rest := data[i+len(k)+5:]
		if j := bytes.IndexByte(rest, '\n'); j >= 0 {
			rest = rest[:j]
		}
		v, _ := strconv.ParseFloat(strings.Fields(string(rest))[0], 64)
		return v
	}
	return fmt.Sprintf("in use %.1f, allocated %.1f / %.1f MiB", get("HeapInuse")/(1<<20), get("HeapAlloc")/(1<<20), get("Stack")/(1<<20))
}

// loadScenario runs rate msgs/s from senders of n clients and reports
// delivery latency at the others, and the server's CPU and RSS.
func loadScenario(rs *results, f targetFactory, n, senders int, rate float64, dur time.Duration) error {
	t, err := f(n)
	if err != nil {
		return err
	}
	defer t.stop()
	r, err := connect(t, n, senders, false)
	if err != nil {
		return err
	}
	defer r.close()
	r.run(rate, 2*time.Second) // warm-up
	cpu0, _ := procStat(t.pid())
	t0 := time.Now()
	profile(t, fmt.Sprintf("load%d", n), dur)
	sent := r.run(rate, dur)
	cpu1, rss := procStat(t.pid())
	heapProfile(t, fmt.Sprintf("load%d", n))
	label := fmt.Sprintf("%d clients, %d senders, %.0f msgs/s", n, senders, rate)
	rs.set(t.name(), label+": delivery p50 / p99 / max", fmt.Sprintf("%s / %s / %s", msf(r.lat.pct(.5)), msf(r.lat.pct(.99)), msf(time.Duration(r.lat.max.Load()))))
	if r.ack.n.Load() > 0 {
		rs.set(t.name(), label+": ack (committed) p50 / p99", fmt.Sprintf("%s / %s", msf(r.ack.pct(.5)), msf(r.ack.pct(.99))))
	}
	rs.set(t.name(), label+": sent / deliveries measured", fmt.Sprintf("%d / %d", sent, r.lat.n.Load()))
	rs.set(t.name(), label+": server CPU / RSS", fmt.Sprintf("%.0f %% / %.0f MiB", 100*float64(cpu1-cpu0)/float64(time.Since(t0)), float64(rss)/(1<<20)))
	rs.set(t.name(), label+": evicted / errors", fmt.Sprintf("%d / %d", r.evicted.Load(), r.errs.Load()))
	if e, ok := r.lastErr.Load().(string); ok {
		fmt.Fprintln(os.Stderr, "loadtest: last error frame:", e)
	}
	return nil
}

// rateSearch raises the rate at n clients step by step and reports the
// highest one whose delivery p99 stayed within limit.
func rateSearch(rs *results, f targetFactory, n, senders int, limit, step time.Duration) error {
	t, err := f(n)
	if err != nil {
		return err
	}
	defer t.stop()
	r, err := connect(t, n, senders, false)
	if err != nil {
		return err
	}
	defer r.close()
	r.run(200, 2*time.Second) // warm-up
	best, bestP99 := 0.0, time.Duration(0)
	var trail []string
	misses := 0
	// One step over the limit may be a hiccup of a shared machine (an fsync that
	// took long); the search ends at the second step in a row over it.
	for _, rate := range []float64{200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800, 2000, 2300, 2600, 3000, 3500, 4000, 5000} {
		if rate == 1000 {
			profile(t, fmt.Sprintf("rate%d", n), step)
		}
		r.run(rate, step)
		p99 := r.lat.pct(.99)
		trail = append(trail, fmt.Sprintf("%.0f→%s", rate, msf(p99)))
		if r.evicted.Load() > 0 {
			break
		}
		if p99 > limit {
			if misses++; misses == 2 {
				break
			}
			continue
		}
		misses = 0
		best, bestP99 = rate, p99
	}
	label := fmt.Sprintf("%d clients: highest rate with delivery p99 ≤ %s", n, msf(limit))
	rs.set(t.name(), label, fmt.Sprintf("%.0f msgs/s (%.0fk deliveries/s, p99 %s)", best, best*float64(n)/1000, msf(bestP99)))
	rs.set(t.name(), fmt.Sprintf("%d clients: steps (msgs/s → p99)", n), strings.Join(trail, ", "))
	return nil
}
