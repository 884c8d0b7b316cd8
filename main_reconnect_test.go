package main

// The web client's reconnect schedule (frontend/src/lib/reconnect.ts), for the
// Go students of the storm, restart and soak tests. The numbers are read from
// the same frontend/src/lib/reconnect.json the web client imports, and
// TestReconnectScheduleMatchesWebClient checks this code against the examples
// in that file, which the web client's unit tests check too: neither side can
// change the schedule without the other noticing.

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type reconnectSchedule struct {
	QuickAttempts  int     `json:"quick_attempts"`
	QuickBaseMS    float64 `json:"quick_base_ms"`
	ProbeMinMS     float64 `json:"probe_min_ms"`
	ProbeMaxMS     float64 `json:"probe_max_ms"`
	ProbeTimeoutMS float64 `json:"probe_timeout_ms"`
	WindowMS       float64 `json:"window_ms"`
	CapMS          float64 `json:"cap_ms"`
	Examples       []struct {
		Step   string  `json:"step"`
		N      int     `json:"n"`
		Random float64 `json:"random"`
		Kind   string  `json:"kind"`
		Delay  int64   `json:"delay"`
	} `json:"examples"`
}

var scheduleJSON = sync.OnceValues(func() (reconnectSchedule, error) {
	var s reconnectSchedule
	b, err := os.ReadFile("frontend/src/lib/reconnect.json")
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	return s, err
})

func schedule() reconnectSchedule {
	s, err := scheduleJSON()
	if err != nil {
		panic("reading the reconnect schedule: " + err.Error())
	}
	return s
}

func ms(v float64) time.Duration { return time.Duration(math.Floor(v)) * time.Millisecond }

// afterFailure is what to do after the n-th attempt in a row that ended
// without `ready`: connect again (quick retry) or probe, after the delay.
func (s reconnectSchedule) afterFailure(n int, random func() float64) (probe bool, delay time.Duration) {
	if n <= s.QuickAttempts {
		return false, ms(random() * s.QuickBaseMS * math.Pow(2, float64(max(0, n-1))))
	}
	return true, s.probeDelay(random)
}

func (s reconnectSchedule) probeDelay(random func() float64) time.Duration {
	return ms(s.ProbeMinMS) + ms(random()*(s.ProbeMaxMS-s.ProbeMinMS))
}

// connectWindow: the wait before connecting after the k-th answered probe since the last ready.
func (s reconnectSchedule) connectWindow(k int, random func() float64) time.Duration {
	return ms(random() * math.Min(s.CapMS, s.WindowMS*math.Pow(2, float64(max(0, min(k-1, 30))))))
}

// retryAfterDelay: after a 503 with Retry-After, the hint spread over as much again.
func (s reconnectSchedule) retryAfterDelay(seconds int, random func() float64) time.Duration {
	m := math.Min(s.CapMS, float64(max(0, seconds))*1000)
	return ms(m) + ms(random()*m)
}

func TestReconnectScheduleMatchesWebClient(t *testing.T) {
	s := schedule()
	if s.QuickAttempts < 1 || s.ProbeMinMS >= s.ProbeMaxMS || s.WindowMS <= 0 || len(s.Examples) < 5 {
		t.Fatalf("implausible schedule in reconnect.json: %+v", s)
	}
	steps := map[string]bool{}
	for _, e := range s.Examples {
		r := func() float64 { return e.Random }
		var got time.Duration
		switch e.Step {
		case "after_failure":
			probe, d := s.afterFailure(e.N, r)
			if kind := map[bool]string{false: "connect", true: "probe"}[probe]; kind != e.Kind {
				t.Errorf("%+v: %s", e, kind)
			}
			got = d
		case "window":
			got = s.connectWindow(e.N, r)
		case "retry_after":
			got = s.retryAfterDelay(e.N, r)
		default:
			t.Fatalf("unknown step %q in reconnect.json", e.Step)
		}
		steps[e.Step] = true
		if got != time.Duration(e.Delay)*time.Millisecond {
			t.Errorf("%+v: %s", e, got)
		}
	}
	if len(steps) != 3 {
		t.Errorf("the examples cover %v, not every step", steps)
	}
}

// legacyBackoff is the schedule the web client had before the health probe
// (exponential backoff with full jitter, base 500 ms, cap 30 s), kept so
// TEAMCHAT_RECONNECT=legacy measures before and after in the same run.
func legacyBackoff(attempt int, random func() float64) time.Duration {
	const base, limit = 500.0, 30_000.0
	return ms(random() * math.Min(limit, base*math.Pow(2, float64(max(0, min(attempt-1, 30))))))
}

// reconnectModeOf is the schedule subtests set (forEachReconnectMode); they run one at a time.
var reconnectModeOf atomic.Value

// reconnectMode is the schedule the Go students follow: "probe" (the web
// client's) unless a subtest of TEAMCHAT_RECONNECT_MODES=legacy,probe chose "legacy".
func reconnectMode() string {
	if m, _ := reconnectModeOf.Load().(string); m != "" {
		return m
	}
	return "probe"
}

// forEachReconnectMode runs f once per schedule in TEAMCHAT_RECONNECT_MODES
// (default: the web client's only), so before and after are measured in one run.
func forEachReconnectMode(t *testing.T, f func(t *testing.T)) {
	modes := []string{"probe"}
	if v := os.Getenv("TEAMCHAT_RECONNECT_MODES"); v != "" {
		modes = strings.Split(v, ",")
	}
	for _, m := range modes {
		if m != "probe" && m != "legacy" {
			t.Fatalf("TEAMCHAT_RECONNECT_MODES: unknown schedule %q (probe, legacy)", m)
		}
		reconnectModeOf.Store(m)
		t.Run(m, f)
		reconnectModeOf.Store("")
	}
}

// loadAverage is the machine's 1-minute load average, to note beside figures.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// healthURL is http://host/healthz of the student's socket address (through
// the access point when there is one, as the browser's probe would go).
func (s *student) healthURL() string {
	u := strings.Replace(s.ws, "ws://", "http://", 1)
	return strings.TrimSuffix(u, "/api/v1/ws") + "/healthz"
}

// probeHealth is the web client's probe: GET /healthz, no credentials; ok on
// 2xx, the Retry-After of a 503, else not there.
func (s *student) probeHealth(ctx context.Context, timeout time.Duration) (ok bool, retryAfter int) {
	s.mu.Lock()
	if s.probeClient == nil {
		s.probeClient = &http.Client{Timeout: timeout, Transport: &http.Transport{
			DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: s.ip}, Timeout: timeout}).DialContext,
			DisableKeepAlives: true, // a probe per second; no idle sockets left behind
		}}
	}
	c := s.probeClient
	s.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, "GET", s.healthURL(), nil)
	if err != nil {
		return false, -1
	}
	res, err := c.Do(req)
	if err != nil {
		return false, -1
	}
	res.Body.Close()
	if res.StatusCode/100 == 2 {
		return true, -1
	}
	if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && res.StatusCode == http.StatusServiceUnavailable {
		return false, ra
	}
	return false, -1
}

// reconnectWait follows the schedule after the n-th failed attempt in a row:
// it returns when it is time to connect (false when ctx ended). answered
// counts the probes answered since the last ready.
func (s *student) reconnectWait(ctx context.Context, rng *rand.Rand, n int, answered *int) bool {
	if reconnectMode() == "legacy" {
		return sleepCtx(ctx, legacyBackoff(n, rng.Float64))
	}
	sc := schedule()
	probe, d := sc.afterFailure(n, rng.Float64)
	if !sleepCtx(ctx, d) {
		return false
	}
	if !probe {
		return true
	}
	for {
		ok, ra := s.probeHealth(ctx, ms(sc.ProbeTimeoutMS))
		if ctx.Err() != nil {
			return false
		}
		s.mu.Lock()
		s.probes++
		s.mu.Unlock()
		switch {
		case ok:
			*answered++
			return sleepCtx(ctx, sc.connectWindow(*answered, rng.Float64))
		case ra >= 0:
			d = sc.retryAfterDelay(ra, rng.Float64)
		default:
			d = sc.probeDelay(rng.Float64)
		}
		if !sleepCtx(ctx, d) {
			return false
		}
	}
}
