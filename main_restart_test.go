package main

// Server restart: a class is connected and chatting when the server is killed
// (SIGKILL) and started again on the same address and data. The students
// follow the web client's reconnect schedule (main_reconnect_test.go): quick
// retries, then health probes, then a connect within a jittered window. Each
// one's stream must go on with no gap and no duplicate, and every acked
// message is stored exactly once, the sends made while the server was down
// included. The time from the server answering again to every student live is
// measured and logged, not asserted (docs/performance.md).
//
//	go test -run TestRestartReconnect -v .     (100 students; 50 under -race)
//	TEAMCHAT_RESTART_CLIENTS=1000 TEAMCHAT_RECONNECT_MODES=legacy,probe go test -run TestRestartReconnect -v .

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRestartReconnect(t *testing.T) {
	n := 100
	if raceDetector {
		n = 50
	}
	if v, err := strconv.Atoi(os.Getenv("TEAMCHAT_RESTART_CLIENTS")); err == nil && v > 0 {
		n = v
	}
	forEachReconnectMode(t, func(t *testing.T) { restartReconnect(t, n) })
}

// freeAddr is a loopback address nothing listens on now, for a server that
// must come back on the same one.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func totalProbes(students []*student) int {
	k := 0
	for _, s := range students {
		s.mu.Lock()
		k += s.probes
		s.mu.Unlock()
	}
	return k
}

func restartReconnect(t *testing.T, n int) {
	const nConvs = 2
	data := t.TempDir()
	addUser(t, data, "prof", "admin")
	addr := freeAddr(t)
	p := startProfiled(t, data, "--addr", addr)
	prof, code, convs := classroom(t, p.url, nConvs)
	wsURL := "ws://" + addr + "/api/v1/ws"

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
				students[i] = newStudent(name, tok, uid, studentIP(i), wsURL, p.url, convs[i%nConvs])
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	connCtx, stopConns := context.WithCancel(context.Background())
	defer stopConns()
	var conns sync.WaitGroup
	for i, s := range students {
		conns.Add(1)
		go func() { defer conns.Done(); s.run(connCtx, rand.New(rand.NewPCG(uint64(i), 7))) }()
	}
	online := func() bool {
		for _, s := range students {
			if !s.online() {
				return false
			}
		}
		return true
	}
	waitForOr(t, 5*time.Minute, fmt.Sprintf("%d students connected", n), online,
		func() string { return describeStuck(students, (*student).online) + serverDump(p) })

	// One in ten sends about every second, the server down or not: what is
	// sent meanwhile waits in the outbox and is resent with the same client_id.
	sendCtx, stopSending := context.WithCancel(context.Background())
	defer stopSending()
	var senders sync.WaitGroup
	for i, s := range students {
		if i%10 != 0 {
			continue
		}
		senders.Add(1)
		go func() {
			defer senders.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 3))
			for k := 0; ; k++ {
				if !sleepCtx(sendCtx, 500*time.Millisecond+time.Duration(rng.Int64N(int64(time.Second)))) {
					return
				}
				s.send(convs[i%nConvs], fmt.Sprintf("%s says %d", s.name, k))
			}
		}()
	}
	waitFor(t, time.Minute, "messages flowing", func() bool {
		acked := 0
		for _, s := range students {
			s.mu.Lock()
			acked += len(s.acked)
			s.mu.Unlock()
		}
		return acked >= 10
	})

	// kill -9, and a start again on the same address after a while (the
	// downtime of a restart, part of the scenario, not a synchronization).
	killedAt := time.Now()
	p.cmd.Process.Kill()
	<-p.done
	sleepCtx(context.Background(), 2*time.Second)
	p = startProfiled(t, data, "--addr", addr)
	// The server answers from the moment its URL is printed (it listens first).
	answering := time.Now()
	if res, err := http.Get(p.url + "/healthz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("the restarted server does not answer /healthz: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	back := func(s *student) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		_, ok := s.firstAfter(killedAt)
		return ok
	}
	waitForOr(t, 3*time.Minute, "every student live again after the restart", func() bool {
		for _, s := range students {
			if !back(s) {
				return false
			}
		}
		return true
	}, func() string { return describeStuck(students, back) + serverDump(p) })
	var lag []time.Duration
	attempts := 0
	for _, s := range students {
		s.mu.Lock()
		r, _ := s.firstAfter(killedAt)
		lag = append(lag, r.Sub(answering))
		attempts += s.closes[-1]
		s.mu.Unlock()
	}
	slices.Sort(lag)
	pct := func(q float64) time.Duration {
		return lag[min(len(lag)-1, int(q*float64(len(lag))))].Round(10 * time.Millisecond)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "schedule %s, %d students, load average %s: down %s; from the server answering to every student live: p50 %s, p90 %s, p99 %s, last %s; %d refused connection attempts, %d health probes",
		reconnectMode(), n, loadAverage(), answering.Sub(killedAt).Round(10*time.Millisecond),
		pct(0.5), pct(0.9), pct(0.99), lag[len(lag)-1].Round(10*time.Millisecond), attempts, totalProbes(students))
	t.Log(b.String())

	stopSending()
	senders.Wait()
	noPending := func(s *student) bool { return s.pendingCount() == 0 }
	waitForOr(t, 2*time.Minute, "every outbox acked", func() bool {
		for _, s := range students {
			if !noPending(s) {
				return false
			}
		}
		return true
	}, func() string { return describeStuck(students, noPending) + serverDump(p) })
	awaitCaughtUp(t, prof, convs, students, "every student caught up", p)
	stopConns()
	conns.Wait()
	var faults []string
	for _, s := range students {
		s.mu.Lock()
		faults = append(faults, s.faults...)
		s.mu.Unlock()
	}
	for i, f := range faults {
		if i == 20 {
			t.Errorf("… and %d more", len(faults)-20)
			break
		}
		t.Error(f)
	}
	checkStored(t, prof, convs, students)

}
