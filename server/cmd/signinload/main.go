// Command signinload measures how long the professor's sign-in takes while a
// student repeats a correct sign-in over many connections: it runs the real
// binary on 127.0.0.1 with its default limits and bcrypt cost, floods
// POST /auth/token from 127.0.0.2 as the student, and times the professor's
// sign-ins from 127.0.0.1. Figures are in docs/performance.md.
//
//	go run ./server/cmd/signinload --server bin/teamchat-server --conns 100
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const password = "a long enough password"

func main() {
	bin := flag.String("server", "bin/teamchat-server", "teamchat binary to measure")
	conns := flag.Int("conns", 100, "connections repeating the student's sign-in")
	samples := flag.Int("samples", 8, "professor sign-ins to time (one account allows 10 a minute)")
	warmup := flag.Duration("warmup", 2*time.Second, "flood time before the first sample")
	flag.Parse()
	if err := run(*bin, *conns, *samples, *warmup); err != nil {
		fmt.Fprintln(os.Stderr, "signinload:", err)
		os.Exit(1)
	}
}

func run(bin string, conns, samples int, warmup time.Duration) error {
	data, err := os.MkdirTemp("", "signinload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(data)
	for _, u := range [][2]string{{"prof", "admin"}, {"stu", "user"}} {
		cmd := exec.Command(bin, "user", "add", "--data", data, "--username", u[0], "--role", u[1])
		cmd.Stdin = strings.NewReader(password + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("user add: %v: %s", err, out)
		}
	}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", filepath.Clean(data), "--no-mdns")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(sc.Text()); m != "" {
			base = m
			break
		}
	}
	if base == "" {
		return fmt.Errorf("the server printed no URL")
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	flood := client("127.0.0.2", conns)
	prof := client("127.0.0.1", 1)
	var stop atomic.Bool
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				s, _ := login(flood, base, "stu")
				mu.Lock()
				statuses[s]++
				mu.Unlock()
			}
		}()
	}
	time.Sleep(warmup) // a load generator, not a test: let the flood build its queue
	var took []time.Duration
	profStatus := map[int]int{}
	for range samples {
		s, d := login(prof, base, "prof")
		profStatus[s]++
		took = append(took, d)
	}
	stop.Store(true)
	wg.Wait()
	slices.Sort(took)
	fmt.Printf("binary %s, %d flood connections from 127.0.0.2 (student, right password)\n", bin, conns)
	fmt.Printf("professor from 127.0.0.1: %d sign-ins, answers %v, median %v, worst %v\n",
		len(took), profStatus, took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	fmt.Printf("flood answers: %v\n", statuses)
	return nil
}

func client(ip string, conns int) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: conns}}
}

func login(c *http.Client, base, user string) (int, time.Duration) {
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	start := time.Now()
	res, err := c.Post(base+"/api/v1/auth/token", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, time.Since(start)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, time.Since(start)
}
