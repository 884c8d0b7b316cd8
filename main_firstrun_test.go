package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// servedOut is a server whose stdout is kept (launch discards it after the URL).
type servedOut struct {
	cmd  *exec.Cmd
	url  string
	out  *lockedBuffer // stdout
	logs *lockedBuffer // stderr
	done chan struct{}
}

// serveKeepingOutput starts `teamchat serve --no-mdns` on data and waits for its URL.
func serveKeepingOutput(t *testing.T, data string) *servedOut {
	t.Helper()
	cmd := exec.Command(binPath, "serve", "--addr", "127.0.0.1:0", "--data", data, "--no-mdns")
	s := &servedOut{cmd: cmd, out: &lockedBuffer{}, logs: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = s.logs
	pipe, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	copied := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			_, _ = s.out.Write([]byte(sc.Text() + "\n"))
		}
		_, _ = io.Copy(io.Discard, pipe)
		close(copied)
	}()
	go func() { <-copied; _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-s.done })
	m := s.waitFor(t, urlRE)
	s.url = m[1]
	return s
}

// waitFor waits until stdout matches re (30 s at most) and returns the match.
func (s *servedOut) waitFor(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := re.FindStringSubmatch(s.out.String()); m != nil {
			return m
		}
		select {
		case <-s.done:
			t.Fatalf("server exited before printing %v\nstdout:\n%s\nstderr:\n%s", re, s.out, s.logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %v in the output\nstdout:\n%s\nstderr:\n%s", re, s.out, s.logs)
		}
	}
}

// stop ends the server with SIGTERM (graceful) and waits for it.
func (s *servedOut) stop(t *testing.T) {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop on SIGTERM")
	}
}

var setupCodeRE = regexp.MustCompile(`(?m)^\s+([A-Z2-9]{5}-[A-Z2-9]{5})\s*$`)

func postSetup(t *testing.T, c *http.Client, base, code string) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"setup_code": code, "class_name": "Biology 2B", "display_name": "Dr. Rosalind", "username": "rosalind", "password": "a good password"})
	res, err := c.Post(base+"/api/v1/setup", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func getJSON(t *testing.T, c *http.Client, url string) (int, map[string]any) {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// A professor with a fresh data directory: the terminal says what to do and
// prints a setup code; a restart before setup makes a new one; setup over
// HTTP signs the professor in; the terminal then prints the next step.
func TestHeadlessFirstRunSetup(t *testing.T) {
	data := t.TempDir()
	s := serveKeepingOutput(t, data)
	first := s.waitFor(t, setupCodeRE)[1]
	out := s.out.String()
	for _, want := range []string{"First run", "Open " + s.url + "/ in a browser", "teamchat user add --data " + data, "--role admin"} {
		if !strings.Contains(out, want) {
			t.Errorf("first-run output lacks %q:\n%s", want, out)
		}
	}
	// Restart before setup: a new code; the old one is refused.
	s.stop(t)
	s = serveKeepingOutput(t, data)
	code := s.waitFor(t, setupCodeRE)[1]
	if code == first {
		t.Fatalf("the restart kept the setup code %s", code)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	if st, m := getJSON(t, c, s.url+"/api/v1/info"); st != 200 || m["setup_required"] != true {
		t.Fatalf("info: %d %v", st, m)
	}
	if st, m := postSetup(t, c, s.url, first); st != 403 {
		t.Fatalf("the previous run's code: %d %v", st, m)
	}
	st, m := postSetup(t, c, s.url, code)
	if st != 201 || m["csrf_token"] == "" {
		t.Fatalf("setup: %d %v", st, m)
	}
	// Signed in with the cookie: the professor reads the settings.
	st, set := getJSON(t, c, s.url+"/api/v1/settings")
	if st != 200 || set["name"] != "Biology 2B" {
		t.Fatalf("settings as the professor: %d %v", st, set)
	}
	join := set["join_code"].(string)
	next := s.waitFor(t, regexp.MustCompile(`Students: open (\S+)\?code=(\S+)`))
	if next[1] != s.url+"/" || next[2] != join {
		t.Fatalf("next step %q, want %s/?code=%s", next[0], s.url, join)
	}
	if out := s.out.String(); !strings.Contains(out, `Class "Biology 2B" is set up; professor "rosalind"`) || !strings.Contains(out, "sign in at "+s.url+"/") {
		t.Fatalf("next step:\n%s", out)
	}
	if st, m := postSetup(t, &http.Client{Timeout: 30 * time.Second}, s.url, code); st != 409 {
		t.Fatalf("second setup: %d %v", st, m)
	}
	// The codes were never logged nor written into the data directory.
	for _, c := range []string{first, code} {
		plain := strings.ReplaceAll(c, "-", "")
		if strings.Contains(s.logs.String(), plain) || strings.Contains(s.logs.String(), c) {
			t.Fatalf("setup code %s in the server log:\n%s", c, s.logs)
		}
		_ = filepath.WalkDir(data, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, _ := os.ReadFile(p)
			if strings.Contains(string(b), plain) || strings.Contains(string(b), c) {
				t.Errorf("setup code %s stored in %s", c, p)
			}
			return nil
		})
	}
	// Once set up, a restart prints no setup.
	s.stop(t)
	s = serveKeepingOutput(t, data)
	if st, _ := getJSON(t, c, s.url+"/api/v1/setup"); st != 404 {
		t.Fatalf("setup after restart: %d", st)
	}
	s.stop(t) // all its output is in
	if strings.Contains(s.out.String(), "First run") {
		t.Fatalf("set-up class printed a first run:\n%s", s.out)
	}
}

// The command-line alternative while the server waits for its setup: the
// account made by `teamchat user add` ends the browser setup, and the
// terminal prints the next step.
func TestHeadlessFirstRunEndsWithUserAdd(t *testing.T) {
	data := t.TempDir()
	s := serveKeepingOutput(t, data)
	code := s.waitFor(t, setupCodeRE)[1]
	addUser(t, data, "prof", "admin")
	s.waitFor(t, regexp.MustCompile(`Class "Team Chat" is set up; the professor's account was created\.`))
	s.waitFor(t, regexp.MustCompile(`Students: open \S+\?code=\S+`))
	c := &http.Client{Timeout: 30 * time.Second}
	if st, _ := getJSON(t, c, s.url+"/api/v1/setup"); st != 404 {
		t.Fatalf("setup after user add: %d", st)
	}
	if st, m := postSetup(t, c, s.url, code); st != 409 {
		t.Fatalf("setup code after user add: %d %v", st, m)
	}
	token(t, s.url, "prof") // the account signs in
}
