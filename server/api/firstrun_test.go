package api_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"teamchat/server/chat"
	"teamchat/server/model"
	"teamchat/server/servertest"
)

// openFirstRun starts a server on an empty data directory and opens its
// first-run setup, as `teamchat serve` does; it returns the printed code.
func openFirstRun(t *testing.T) (*servertest.Env, string) {
	t.Helper()
	env := servertest.Start(t)
	code, err := env.Srv.OpenFirstRun(t.Context())
	if err != nil || len(code) != chat.SetupCodeLen+1 || code[chat.SetupCodeLen/2] != '-' {
		t.Fatalf("OpenFirstRun: %q, %v", code, err)
	}
	return env, code
}

func setupBody(code, username string) map[string]any {
	return map[string]any{"setup_code": code, "class_name": "Physics 101", "display_name": "Prof. Ada", "username": username, "password": "a good password"}
}

func TestFirstRunSetupOnce(t *testing.T) {
	env := servertest.Start(t)
	anon := env.Anon()
	// Not opened (the desktop host, or tests): refused, and the page shows sign-in.
	anon.Must(404, "GET", "/api/v1/setup", nil)
	if anon.Must(200, "GET", "/api/v1/info", nil).JSON()["setup_required"] != false {
		t.Fatal("setup_required before the setup was opened")
	}
	code, err := env.Srv.OpenFirstRun(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st := anon.Must(200, "GET", "/api/v1/setup", nil).JSON()
	if st["required"] != true || st["code_length"] != float64(chat.SetupCodeLen) {
		t.Fatalf("setup state: %v", st)
	}
	if anon.Must(200, "GET", "/api/v1/info", nil).JSON()["setup_required"] != true {
		t.Fatal("info does not say setup_required")
	}

	// Bad input: the envelope, and the code stays valid.
	for _, bad := range []any{`{"setup_code":"x","nope":1}`, `[]`, ``, `{"setup_code":` + fmt.Sprintf("%q", code) + `,"class_name":"C","username":"prof","password":"short"}`,
		`{"setup_code":` + fmt.Sprintf("%q", code) + `,"class_name":"C","username":"No Spaces!","password":"a good password"}`,
		`{"setup_code":` + fmt.Sprintf("%q", code) + `,"class_name":"","username":"prof","password":"a good password"}`} {
		r := anon.Do("POST", "/api/v1/setup", bad)
		if r.Status != 400 || r.ErrCode() != "bad_request" {
			t.Errorf("POST /setup %s: %d %s", bad, r.Status, r.Body)
		}
	}
	// A wrong code: 403, nothing created.
	r := anon.Do("POST", "/api/v1/setup", setupBody("ABCDE-FGHJK", "mallory"))
	if r.Status != 403 || r.ErrCode() != "forbidden" || r.Header.Get("Set-Cookie") != "" {
		t.Fatalf("wrong code: %d %s", r.Status, r.Body)
	}

	// The right code, typed loosely (lower case, spaces): created and signed in
	// with the cookie session the web UI uses.
	prof := env.Anon()
	typed := strings.ToLower(strings.ReplaceAll(code, "-", " "))
	r = prof.Must(201, "POST", "/api/v1/setup", setupBody(typed, "ada"))
	var ans struct {
		User      model.User `json:"user"`
		CSRFToken string     `json:"csrf_token"`
	}
	r.Decode(t, &ans)
	if ans.User.Role != model.RoleAdmin || ans.User.Username != "ada" || ans.User.DisplayName != "Prof. Ada" || ans.CSRFToken == "" {
		t.Fatalf("setup answer: %s", r.Body)
	}
	if !strings.Contains(r.Header.Get("Set-Cookie"), "HttpOnly") {
		t.Fatalf("no session cookie: %q", r.Header.Get("Set-Cookie"))
	}
	// The cookie needs the CSRF token for unsafe requests, as after sign-in.
	prof.Must(403, "PATCH", "/api/v1/settings", map[string]any{"guest_access": false})
	prof.CSRF = ans.CSRFToken
	prof.Must(200, "PATCH", "/api/v1/settings", map[string]any{"guest_access": false})
	if me := prof.Must(200, "GET", "/api/v1/me", nil).JSON(); me["username"] != "ada" {
		t.Fatalf("me: %v", me)
	}
	if info := anon.Must(200, "GET", "/api/v1/info", nil).JSON(); info["name"] != "Physics 101" || info["setup_required"] != false {
		t.Fatalf("info after setup: %v", info)
	}

	// Once: the same code again, and the state, are refused; the code is gone.
	if r := env.Anon().Do("POST", "/api/v1/setup", setupBody(code, "second")); r.Status != 409 || r.ErrCode() != "conflict" {
		t.Fatalf("second setup: %d %s", r.Status, r.Body)
	}
	anon.Must(404, "GET", "/api/v1/setup", nil)
	select {
	case <-env.Srv.FirstRunDone():
	default:
		t.Fatal("FirstRunDone not closed after setup")
	}
	if u := env.Srv.Chat().FirstRunAdmin(); u.Username != "ada" {
		t.Fatalf("FirstRunAdmin: %+v", u)
	}
	// The professor's account signs in as usual; the second attempt made none.
	env.Anon().Must(200, "POST", "/api/v1/session", map[string]any{"username": "ada", "password": "a good password"})
	if users := prof.Must(200, "GET", "/api/v1/users", nil); strings.Contains(string(users.Body), "second") || strings.Contains(string(users.Body), "mallory") {
		t.Fatalf("refused attempts made accounts: %s", users.Body)
	}
	// The audit log has it.
	if a := prof.Must(200, "GET", "/api/v1/audit", nil); !strings.Contains(string(a.Body), "first_run") {
		t.Fatalf("audit has no first-run entry: %s", a.Body)
	}
	// The code is printed, never logged.
	if strings.Contains(env.Logs(), code) || strings.Contains(env.Logs(), strings.ReplaceAll(code, "-", "")) {
		t.Fatal("the setup code is in the server log")
	}
}

func TestFirstRunWrongCodesRateLimited(t *testing.T) {
	env, code := openFirstRun(t)
	c := env.Anon()
	for i := range 5 {
		r := c.Do("POST", "/api/v1/setup", setupBody(fmt.Sprintf("WRONG-%05d", i), "prof"))
		if r.Status != 403 {
			t.Fatalf("wrong code %d: %d %s", i, r.Status, r.Body)
		}
	}
	// Blocked: even the right code is refused (no probing around the limit).
	r := c.Do("POST", "/api/v1/setup", setupBody(code, "prof"))
	if r.Status != 429 || r.ErrCode() != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("after 5 wrong codes: %d %s (Retry-After %q)", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	env.Anon().Must(200, "GET", "/api/v1/setup", nil) // still open

	// Sources an attacker could multiply: one IPv6 /64 is one source ...
	svc := env.Srv.Chat()
	try := func(addr, code string) error {
		_, err := svc.CompleteFirstRun(t.Context(), chat.SetupInput{Code: code, ClassName: "C", Username: "prof", Password: "a good password"}, addr)
		return err
	}
	for i := range 5 {
		if err := try(fmt.Sprintf("2001:db8:1:2::%x", i+1), "WRONGWRONG"); !errors.Is(err, model.ErrForbidden) {
			t.Fatalf("v6 wrong %d: %v", i, err)
		}
	}
	if err := try("2001:db8:1:2:ffff::9", code); !errors.Is(err, model.ErrRateLimited) {
		t.Fatalf("another address of the same /64: %v", err)
	}
	for i := range 5 { // link-local addresses with a zone: one /64 too
		if err := try(fmt.Sprintf("fe80::%x%%eth0", i+1), "WRONGWRONG"); !errors.Is(err, model.ErrForbidden) {
			t.Fatalf("link-local wrong %d: %v", i, err)
		}
	}
	if err := try("fe80::99%wlan0", code); !errors.Is(err, model.ErrRateLimited) {
		t.Fatalf("another link-local address: %v", err)
	}
	for range 5 { // an IPv4-mapped IPv6 address is its IPv4
		if err := try("10.0.0.1", "WRONGWRONG"); !errors.Is(err, model.ErrForbidden) {
			t.Fatal(err)
		}
	}
	if err := try("::ffff:10.0.0.1", code); !errors.Is(err, model.ErrRateLimited) {
		t.Fatalf("mapped form of a blocked IPv4: %v", err)
	}
	// ... and many addresses share one cap over all (the 15 above count too).
	n := 15
	for a := 2; n < 30; a++ {
		for range 5 {
			if n == 30 {
				break
			}
			if err := try(fmt.Sprintf("10.0.0.%d", a), "WRONGWRONG"); !errors.Is(err, model.ErrForbidden) {
				t.Fatalf("10.0.0.%d after %d: %v", a, n, err)
			}
			n++
		}
	}
	if err := try("10.9.9.9", code); !errors.Is(err, model.ErrRateLimited) {
		t.Fatalf("a fresh address after %d wrong codes in all: %v", n, err)
	}
	// Guessers on the network never lock out the machine itself (its own
	// limit aside): from loopback the right code works.
	if err := try("::1", code); err != nil {
		t.Fatalf("loopback with the right code: %v", err)
	}
	if !strings.Contains(env.Logs(), "many wrong setup codes") || strings.Contains(env.Logs(), strings.ReplaceAll(code, "-", "")) {
		t.Fatalf("log: want the warning and not the code:\n%s", env.Logs())
	}
}

func TestFirstRunConcurrentSetupMakesOneAdmin(t *testing.T) {
	env, code := openFirstRun(t)
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		c := env.Anon()
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i] = c.Do("POST", "/api/v1/setup", setupBody(code, fmt.Sprintf("prof%d", i))).Status
		}()
	}
	close(start)
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 409:
		default:
			t.Fatalf("statuses %v", statuses)
		}
	}
	admins, err := env.Srv.Store().CountAdmins(t.Context())
	if created != 1 || err != nil || admins != 1 {
		t.Fatalf("statuses %v, admins %d (%v)", statuses, admins, err)
	}
}

func TestFirstRunRefusesCrossSiteAndEndsWithCLIAdmin(t *testing.T) {
	env, code := openFirstRun(t)
	for _, h := range []http.Header{{"Origin": {"http://evil.example"}}, {"Sec-Fetch-Site": {"cross-site"}}} {
		c := env.Anon()
		c.Header = h
		if r := c.Do("POST", "/api/v1/setup", setupBody(code, "prof")); r.Status != 403 || r.Header.Get("Set-Cookie") != "" {
			t.Fatalf("cross-site %v: %d %s", h, r.Status, r.Body)
		}
	}
	env.Anon().Must(200, "GET", "/api/v1/setup", nil)
	// `teamchat user add --role admin` meanwhile ends the setup.
	if _, err := env.Srv.Chat().CreateUserCLI(t.Context(), "cliprof", "a good password", "", model.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	env.Anon().Must(404, "GET", "/api/v1/setup", nil)
	if r := env.Anon().Do("POST", "/api/v1/setup", setupBody(code, "prof")); r.Status != 409 {
		t.Fatalf("after a CLI admin: %d %s", r.Status, r.Body)
	}
	select {
	case <-env.Srv.FirstRunDone():
	default:
		t.Fatal("FirstRunDone not closed by the CLI admin")
	}
	// A restart on a set-up class opens nothing.
	if c, err := env.Srv.OpenFirstRun(t.Context()); c != "" || err != nil {
		t.Fatalf("OpenFirstRun with an admin: %q %v", c, err)
	}
}
