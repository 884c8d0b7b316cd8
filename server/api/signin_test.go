package api_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"teamchat/server/cli"
	"teamchat/server/config"
	"teamchat/server/servertest"
)

// from is an anonymous client whose connections come from ip (any 127/8
// address reaches the test server on 127.0.0.1), so a test can play several
// machines of the classroom.
func from(env *servertest.Env, ip string) *servertest.Client {
	c := env.Anon()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	jar, _ := cookiejar.New(nil)
	c.HTTP = &http.Client{Jar: jar, Timeout: 60 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	return c
}

func withSignInRate(perMinute float64) servertest.Option {
	return func(c *config.Config) { c.SignInRate = perMinute }
}

func createAccount(t *testing.T, env *servertest.Env, username, role string) {
	t.Helper()
	if _, err := env.Srv.Chat().CreateUserCLI(context.Background(), username, servertest.Password, "", role); err != nil {
		t.Fatal(err)
	}
}

// A student repeating a correct sign-in over many connections gets refusals
// once their address's and account's budgets are spent, and the professor,
// from her own address, signs in meanwhile.
func TestSignInFloodIsLimitedPerAddressAndAccount(t *testing.T) {
	env := servertest.Start(t, withSignInRate(30))
	createAccount(t, env, "stu", "user")
	createAccount(t, env, "prof", "admin")
	flood := from(env, "127.0.0.2")
	const n = 60
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := flood.Do("POST", "/api/v1/auth/token", map[string]any{"username": "stu", "password": servertest.Password})
			if r.Status == 429 && (r.ErrCode() != "rate_limited" || r.Header.Get("Retry-After") == "") {
				t.Errorf("refusal without the envelope or Retry-After: %s %v", r.Body, r.Header)
			}
			statuses <- r.Status
		}()
	}
	close(start)
	prof := from(env, "127.0.0.1").Do("POST", "/api/v1/auth/token", map[string]any{"username": "prof", "password": servertest.Password})
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if prof.Status != 200 {
		t.Fatalf("the professor's sign-in during the flood: %d %s", prof.Status, prof.Body)
	}
	// 30 checks per minute from one address, 10 successes per minute per
	// account (a refill during the test may add one or two).
	if count[200] < 10 || count[200] > 12 || count[429] != n-count[200] {
		t.Fatalf("flood answers %v: want about 10 successes and the rest 429", count)
	}
	// The student's budgets are the student's: another student from another
	// address signs in.
	createAccount(t, env, "ann", "user")
	from(env, "127.0.0.3").Must(200, "POST", "/api/v1/auth/token", map[string]any{"username": "ann", "password": servertest.Password})
}

// Registering hashes a password too: it spends the address's budget.
func TestRegisterSpendsTheAddressBudget(t *testing.T) {
	env := servertest.Start(t, withSignInRate(5))
	admin := env.AddUser("prof", "admin")
	admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"registration": "open"})
	c := from(env, "127.0.0.2")
	for i := range 5 {
		c.Must(201, "POST", "/api/v1/auth/register", map[string]any{"username": fmt.Sprintf("stu%d", i), "password": "long enough pw"})
	}
	if r := c.Do("POST", "/api/v1/auth/register", map[string]any{"username": "stu9", "password": "long enough pw"}); r.Status != 429 {
		t.Fatalf("sixth registration from one address in a minute: %d %s", r.Status, r.Body)
	}
	from(env, "127.0.0.3").Must(201, "POST", "/api/v1/auth/register", map[string]any{"username": "tia", "password": "long enough pw"})
}

// Wrong guesses from ten machines do not lock the professor out; one machine
// is cut off after five; the username-wide cap stops guessing from many
// machines, except from a machine where the account signed in before.
func TestClassmatesCannotLockOutTheProfessor(t *testing.T) {
	env := servertest.Start(t)
	createAccount(t, env, "prof", "admin")
	guess := func(ip string) int {
		return from(env, ip).Do("POST", "/api/v1/session", map[string]any{"username": "prof", "password": "a wrong guess"}).Status
	}
	right := func(ip string) int {
		return from(env, ip).Do("POST", "/api/v1/session", map[string]any{"username": "prof", "password": servertest.Password}).Status
	}
	for m := range 10 {
		ip := fmt.Sprintf("127.0.1.%d", m+1)
		for i := range 5 {
			if s := guess(ip); s != 401 {
				t.Fatalf("guess %d from %s: %d, want 401", i+1, ip, s)
			}
		}
		if s := guess(ip); s != 429 {
			t.Fatalf("sixth guess from %s: %d, want 429", ip, s)
		}
	}
	if s := right("127.0.0.1"); s != 200 {
		t.Fatalf("the professor after ten machines guessed: %d, want 200", s)
	}
	// Two more machines reach the username-wide cap (60 failures).
	for _, ip := range []string{"127.0.2.1", "127.0.2.2"} {
		for range 5 {
			if s := guess(ip); s != 401 {
				t.Fatalf("guess from %s: %d", ip, s)
			}
		}
	}
	if s := right("127.0.3.1"); s != 429 {
		t.Fatalf("right password from a new machine past the username cap: %d, want 429", s)
	}
	if s := guess("127.0.3.2"); s != 429 {
		t.Fatalf("guess from a new machine past the username cap: %d, want 429", s)
	}
	if s := right("127.0.0.1"); s != 200 {
		t.Fatalf("the professor from the machine she signed in from: %d, want 200", s)
	}
}

// The admin's way in that students cannot block: a one-time link from the
// command line (data directory access) signs her in while her username is
// past its cap, once.
func TestAdminSignInLinkPassesTheLimits(t *testing.T) {
	env := servertest.Start(t)
	createAccount(t, env, "prof", "admin")
	createAccount(t, env, "stu", "user")
	for m := range 12 { // 12 machines × 5 guesses: the username-wide cap
		for range 5 {
			from(env, fmt.Sprintf("127.0.4.%d", m+1)).Do("POST", "/api/v1/session", map[string]any{"username": "prof", "password": "a wrong guess"})
		}
	}
	if r := env.Anon().Do("POST", "/api/v1/session", map[string]any{"username": "prof", "password": servertest.Password}); r.Status != 429 {
		t.Fatalf("the professor from a machine she never signed in from, past the cap: %d %s", r.Status, r.Body)
	}
	var out, errOut strings.Builder
	if code := cli.Run([]string{"user", "login-link", "--data", env.DataDir, "--username", "prof"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("login-link: exit %d: %s", code, errOut.String())
	}
	m := regexp.MustCompile(`\?ticket=([A-Za-z0-9_-]+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no ticket in %q", out.String())
	}
	c := env.Anon()
	c.Header = http.Header{"Origin": {env.URL}}
	r := c.Must(200, "POST", "/api/v1/session/ticket", map[string]any{"ticket": m[1]})
	c.CSRF = r.JSON()["csrf_token"].(string)
	c.Must(200, "GET", "/api/v1/settings", nil)                                            // an admin's session
	env.Anon().Must(401, "POST", "/api/v1/session/ticket", map[string]any{"ticket": m[1]}) // once
	env.Anon().Must(401, "POST", "/api/v1/session/ticket", map[string]any{"ticket": "x" + m[1]})
	// Only for admins.
	if code := cli.Run([]string{"user", "login-link", "--data", env.DataDir, "--username", "stu"}, strings.NewReader(""), &out, &errOut); code == 0 {
		t.Fatal("login-link made a ticket for a student")
	}
}
