package main

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// ---- Team Chat -------------------------------------------------------------

// Protocol is the WebSocket subprotocol with batched frames and presence
// lists (docs/api.md); the driver asks for it unless -legacy.
const tcProtocol = "teamchat.v2"

var legacyFraming bool

type teamchat struct {
	label  string
	s      *server
	toks   []string
	pprof  string
	dialer *websocket.Dialer
}

func (t *teamchat) name() string { return t.label }
func (t *teamchat) pid() int     { return t.s.cmd.Process.Pid }
func (t *teamchat) stop()        { t.s.stop() }

func (t *teamchat) control([]byte) []byte { return nil }

func (t *teamchat) publish(i, n int, body string) []byte {
	b, _ := json.Marshal(map[string]any{"type": "send", "conversation_id": 1, "client_id": fmt.Sprintf("c%d-%d", i, n), "body": body})
	return b
}

// readUntil reads WebSocket messages (one frame each, or newline-joined
// frames) until one frame contains want.
func readUntil(c *websocket.Conn, want string) error {
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(want)) {
			return nil
		}
	}
}

func (t *teamchat) dial(i int) (*websocket.Conn, error) {
	u := "ws" + strings.TrimPrefix(t.s.url, "http") + "/api/v1/ws"
	c, _, err := t.dialer.Dial(u, http.Header{"Authorization": {"Bearer " + t.toks[i]}})
	if err != nil {
		return nil, err
	}
	if err := readUntil(c, `"type":"ready"`); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"subscribe","conversation_id":1}`)); err != nil {
		c.Close()
		return nil, err
	}
	if err := readUntil(c, `"type":"subscribed"`); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// teamchatFactory makes, once, a data directory with enough guest accounts
// (guests need no password hashing, so thousands are quick to create), then
// starts every scenario's server on a fresh copy of it.
func teamchatFactory(label, bin, root string, most int) (targetFactory, error) {
	tmpl, err := freshDir(root, "template")
	if err != nil {
		return nil, err
	}
	s, err := startServer(bin, tmpl)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	toks, err := makeGuests(s, most)
	s.stop()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "loadtest: %d guest accounts in %.1f s\n", most, time.Since(t0).Seconds())
	run := 0
	return func(n int) (target, error) {
		if n > len(toks) {
			return nil, fmt.Errorf("%d accounts prepared, %d asked", len(toks), n)
		}
		run++
		dir := filepath.Join(root, fmt.Sprintf("run%d", run))
		os.RemoveAll(dir)
		if out, err := exec.Command("cp", "-a", tmpl, dir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("copy data: %v: %s", err, out)
		}
		pp, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := startServerArgs(bin, dir, "--pprof", pp)
		if err != nil {
			return nil, err
		}
		d := *websocket.DefaultDialer
		d.HandshakeTimeout = time.Minute
		if !legacyFraming {
			d.Subprotocols = []string{tcProtocol}
		}
		return &teamchat{label: label, s: s, toks: toks[:n], pprof: pp, dialer: &d}, nil
	}, nil
}

func makeGuests(s *server, n int) ([]string, error) {
	admin, err := s.token("admin")
	if err != nil {
		return nil, err
	}
	if err := s.do("PATCH", "/api/v1/settings", admin, map[string]any{"guest_access": true, "guest_ttl_hours": 24}, nil); err != nil {
		return nil, err
	}
	var set struct {
		JoinCode string `json:"join_code"`
	}
	if err := s.do("GET", "/api/v1/settings", admin, nil, &set); err != nil {
		return nil, err
	}
	toks := make([]string, n)
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				var out struct {
					AccessToken string `json:"access_token"`
				}
				err := s.do("POST", "/api/v1/auth/guest", "", map[string]any{"display_name": fmt.Sprintf("Student %d", i), "join_code": set.JoinCode}, &out)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				toks[i] = out.AccessToken
			}
		}()
	}
	wg.Wait()
	return toks, firstErr
}

func (s *server) do(method, path, tok string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func fetchTo(url, file string) error {
	res, err := http.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, res.Body)
	return err
}

// ---- Centrifugo ------------------------------------------------------------

// centrifugo speaks Centrifugo's JSON protocol: connect with an HS256 token,
// subscribe to one channel where subscribers may publish, client-side publish.
type centrifugo struct {
	cmd    *exec.Cmd
	addr   string
	secret []byte
	dialer *websocket.Dialer
}

func (c *centrifugo) name() string { return "Centrifugo" }
func (c *centrifugo) pid() int     { return c.cmd.Process.Pid }

func (c *centrifugo) stop() {
	c.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		c.cmd.Process.Kill()
	}
}

// control answers the server's ping (an empty command, maybe one line of a
// batch) with a pong.
func (c *centrifugo) control(data []byte) []byte {
	if bytes.Equal(data, []byte("{}")) || bytes.HasPrefix(data, []byte("{}\n")) ||
		bytes.HasSuffix(data, []byte("\n{}")) || bytes.Contains(data, []byte("\n{}\n")) {
		return []byte("{}")
	}
	return nil
}

func (c *centrifugo) publish(i, n int, body string) []byte {
	b, _ := json.Marshal(map[string]any{"id": n + 10, "publish": map[string]any{"channel": "lecture", "data": map[string]string{"body": body}}})
	return b
}

func (c *centrifugo) token(i int) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims := enc.EncodeToString([]byte(fmt.Sprintf(`{"sub":"u%d","exp":%d}`, i, time.Now().Add(2*time.Hour).Unix())))
	m := hmac.New(sha256.New, c.secret)
	m.Write([]byte(head + "." + claims))
	return head + "." + claims + "." + enc.EncodeToString(m.Sum(nil))
}

func (c *centrifugo) dial(i int) (*websocket.Conn, error) {
	conn, _, err := c.dialer.Dial("ws://"+c.addr+"/connection/websocket", nil)
	if err != nil {
		return nil, err
	}
	cmds := fmt.Sprintf(`{"id":1,"connect":{"token":%q}}`+"\n"+`{"id":2,"subscribe":{"channel":"lecture"}}`, c.token(i))
	if err := conn.WriteMessage(websocket.TextMessage, []byte(cmds)); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	defer conn.SetReadDeadline(time.Time{})
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			conn.Close()
			return nil, err
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			var r struct {
				ID    int             `json:"id"`
				Error json.RawMessage `json:"error"`
			}
			if json.Unmarshal(line, &r) != nil {
				continue
			}
			if r.Error != nil {
				conn.Close()
				return nil, fmt.Errorf("centrifugo: %s", r.Error)
			}
			if r.ID == 2 {
				return conn, nil
			}
		}
	}
}

func centrifugoFactory(bin, root string) targetFactory {
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs // it runs in its own directory
	}
	run := 0
	return func(int) (target, error) {
		run++
		dir, err := freshDir(root, fmt.Sprintf("centrifugo%d", run))
		if err != nil {
			return nil, err
		}
		addr, err := freePort()
		if err != nil {
			return nil, err
		}
		host, port, _ := net.SplitHostPort(addr)
		p, _ := strconv.Atoi(port)
		secret := "load-test-secret-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		cfg := map[string]any{
			"log":         map[string]any{"level": "error"},
			"http_server": map[string]any{"address": host, "port": p},
			"client": map[string]any{
				"token":           map[string]any{"hmac_secret_key": secret},
				"allowed_origins": []string{"*"},
			},
			"channel": map[string]any{"without_namespace": map[string]any{
				"allow_subscribe_for_client":   true,
				"allow_publish_for_subscriber": true,
			}},
		}
		b, _ := json.MarshalIndent(cfg, "", "  ")
		cfgFile := filepath.Join(dir, "config.json")
		if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "--config", cfgFile)
		cmd.Dir = dir
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		go io.Copy(io.Discard, bufio.NewReader(out))
		deadline := time.Now().Add(20 * time.Second)
		for {
			cn, err := net.Dial("tcp", addr)
			if err == nil {
				cn.Close()
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				return nil, fmt.Errorf("centrifugo did not start on %s", addr)
			}
			time.Sleep(100 * time.Millisecond)
		}
		d := *websocket.DefaultDialer
		d.HandshakeTimeout = time.Minute
		return &centrifugo{cmd: cmd, addr: addr, secret: []byte(secret), dialer: &d}, nil
	}
}
