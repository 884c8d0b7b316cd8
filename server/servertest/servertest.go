// Package servertest builds real Team Chat servers for tests: a temporary
// SQLite file, a real listener on 127.0.0.1, and small HTTP and WebSocket
// clients. Tests wait on frames and conditions with deadlines, never sleeps.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"teamchat/server"
	"teamchat/server/config"
)

// Env is a running server.
type Env struct {
	T       testing.TB
	Srv     *server.Server
	URL     string // http://127.0.0.1:PORT (no trailing slash)
	DataDir string
	Log     *bytes.Buffer
	stopped bool
	mu      sync.Mutex
}

// Option changes the configuration before start.
type Option func(*config.Config)

// Start runs a server on 127.0.0.1:0 with a temp data dir (or the given one).
func Start(t testing.TB, opts ...Option) *Env {
	t.Helper()
	return StartIn(t, t.TempDir(), opts...)
}

// StartIn runs a server with the given data dir.
func StartIn(t testing.TB, dir string, opts ...Option) *Env {
	t.Helper()
	cfg := config.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.NoMDNS = true
	cfg.MsgRate = 0
	cfg.SignInRate = 0 // tests sign many accounts in from 127.0.0.1; the sign-in tests turn it on
	cfg.UploadRate = 0
	cfg.BcryptCost = 4
	cfg.ShutdownGrace = 5 * time.Second
	for _, o := range opts {
		o(&cfg)
	}
	buf := &bytes.Buffer{}
	env := &Env{T: t, DataDir: dir, Log: buf}
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: buf, mu: &env.mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(cfg, log)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	env.Srv = srv
	env.URL = strings.TrimSuffix(srv.LocalURL(), "/")
	t.Cleanup(env.Stop)
	return env
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Logs returns what the server logged so far.
func (e *Env) Logs() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.Log.String()
}

// Stop shuts the server down (once).
func (e *Env) Stop() {
	if e.stopped {
		return
	}
	e.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Srv.Shutdown(ctx); err != nil {
		e.T.Errorf("Shutdown: %v", err)
	}
}

// Resp is an HTTP answer.
type Resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r Resp) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// Decode decodes the body into v.
func (r Resp) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// ErrCode is the error envelope's code ("" when none).
func (r Resp) ErrCode() string {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// Client is an HTTP client with either a Bearer token or a cookie session.
type Client struct {
	Env    *Env
	HTTP   *http.Client
	Token  string // Bearer access token
	CSRF   string // for cookie sessions
	Header http.Header
}

// Transport, when set, carries the requests of every client Anon makes: a test
// package sets it in TestMain, e.g. to check each answer against the OpenAPI
// document. Nil is http.DefaultTransport.
var Transport http.RoundTripper

// Anon is a client with no credentials.
func (e *Env) Anon() *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{Env: e, HTTP: &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: Transport}, Header: http.Header{}}
}

// Do sends a request; body is marshalled unless it is a string or []byte.
func (c *Client) Do(method, path string, body any) Resp {
	c.Env.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.Env.URL+path, rd)
	if err != nil {
		c.Env.T.Fatalf("request: %v", err)
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	if rd != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if c.CSRF != "" && method != http.MethodGet {
		req.Header.Set("X-CSRF-Token", c.CSRF)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		c.Env.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return Resp{Status: res.StatusCode, Header: res.Header, Body: data}
}

// Must sends a request and fails the test unless the status is want.
func (c *Client) Must(want int, method, path string, body any) Resp {
	c.Env.T.Helper()
	r := c.Do(method, path, body)
	if r.Status != want {
		c.Env.T.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// Password is the password of every account the helpers create.
const Password = "correct horse battery"

// AddUser creates an account directly in the store and signs it in with tokens.
func (e *Env) AddUser(username, role string) *Client {
	e.T.Helper()
	if _, err := e.Srv.Chat().CreateUserCLI(context.Background(), username, Password, "", role); err != nil {
		e.T.Fatalf("create %s: %v", username, err)
	}
	return e.Login(username)
}

// Login signs an existing account in with tokens.
func (e *Env) Login(username string) *Client {
	e.T.Helper()
	c := e.Anon()
	r := c.Must(200, "POST", "/api/v1/auth/token", map[string]any{"username": username, "password": Password})
	c.Token = r.JSON()["access_token"].(string)
	return c
}

// Session signs an existing account in with a browser session (cookie + CSRF).
func (e *Env) Session(username string) *Client {
	e.T.Helper()
	c := e.Anon()
	r := c.Must(200, "POST", "/api/v1/session", map[string]any{"username": username, "password": Password})
	c.CSRF = r.JSON()["csrf_token"].(string)
	return c
}

// ID is the signed-in user's id.
func (c *Client) ID() int64 {
	c.Env.T.Helper()
	return int64(c.Must(200, "GET", "/api/v1/me", nil).JSON()["id"].(float64))
}

// ---- WebSocket ----

// Frame is a decoded server frame.
type Frame map[string]any

// Type is the frame's type.
func (f Frame) Type() string { s, _ := f["type"].(string); return s }

// Int reads a numeric field.
func (f Frame) Int(k string) int64 { v, _ := f[k].(float64); return int64(v) }

// Message is the embedded message object of message/ack frames.
func (f Frame) Message() map[string]any { m, _ := f["message"].(map[string]any); return m }

// Seq is the message's seq in a message/ack frame.
func (f Frame) Seq() int64 { v, _ := f.Message()["seq"].(float64); return int64(v) }

// WS is a WebSocket client that reads frames in the background.
type WS struct {
	t      testing.TB
	Conn   *websocket.Conn
	Frames chan Frame
	Closed chan *websocket.CloseError // receives the close error once
	mu     sync.Mutex
}

// Dial opens /api/v1/ws with the given headers.
func (e *Env) Dial(h http.Header) (*WS, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(e.URL, "http") + "/api/v1/ws"
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, res, err := d.Dial(u, h)
	if err != nil {
		return nil, res, err
	}
	ws := &WS{t: e.T, Conn: conn, Frames: make(chan Frame, 100000), Closed: make(chan *websocket.CloseError, 1)}
	go ws.read()
	return ws, res, nil
}

// DialWS opens a socket with a client's credentials and waits for ready.
func (c *Client) DialWS() *WS {
	c.Env.T.Helper()
	h := http.Header{}
	if c.Token != "" {
		h.Set("Authorization", "Bearer "+c.Token)
	} else {
		h.Set("Origin", c.Env.URL)
		u, _ := url.Parse(c.Env.URL)
		for _, ck := range c.HTTP.Jar.Cookies(u) {
			h.Add("Cookie", ck.Name+"="+ck.Value)
		}
	}
	ws, _, err := c.Env.Dial(h)
	if err != nil {
		c.Env.T.Fatalf("dial: %v", err)
	}
	ws.Expect("ready")
	return ws
}

// CheckFrame, when set, sees every frame a server sends to any WS: a test
// package sets it in TestMain, e.g. to check each against the AsyncAPI document.
var CheckFrame func(data []byte)

func (w *WS) read() {
	defer close(w.Frames)
	for {
		_, data, err := w.Conn.ReadMessage()
		if err != nil {
			ce, _ := err.(*websocket.CloseError)
			w.Closed <- ce
			return
		}
		if CheckFrame != nil {
			CheckFrame(data)
		}
		var f Frame
		if json.Unmarshal(data, &f) != nil {
			f = Frame{"type": "<undecodable>", "raw": string(data)}
		}
		w.Frames <- f
	}
}

// Send writes one JSON frame.
func (w *WS) Send(v any) {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.Conn.WriteJSON(v); err != nil {
		w.t.Fatalf("ws send: %v", err)
	}
}

// SendRaw writes one frame of the given message type.
func (w *WS) SendRaw(mt int, data []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.Conn.WriteMessage(mt, data)
}

// Next returns the next frame, failing after the deadline.
func (w *WS) Next() Frame {
	w.t.Helper()
	select {
	case f, ok := <-w.Frames:
		if !ok {
			w.t.Fatalf("ws closed while waiting for a frame")
		}
		return f
	case <-time.After(10 * time.Second):
		w.t.Fatalf("no frame within 10 s")
	}
	return nil
}

// Expect returns the next frame of type typ, skipping presence/activity/typing
// noise unless typ is one of them; any other frame is a failure.
func (w *WS) Expect(typ string) Frame {
	w.t.Helper()
	for {
		f := w.Next()
		if f.Type() == typ {
			return f
		}
		switch f.Type() {
		case "presence", "activity", "typing", "conversation_updated", "member_added":
			continue
		}
		w.t.Fatalf("got frame %v, want type %q", f, typ)
	}
}

// WaitClose waits for the connection to be closed and returns the close code.
func (w *WS) WaitClose() int {
	w.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case _, ok := <-w.Frames:
			if !ok {
				ce := <-w.Closed
				if ce == nil {
					return websocket.CloseAbnormalClosure
				}
				return ce.Code
			}
		case <-deadline:
			w.t.Fatalf("connection not closed within 20 s")
		}
	}
}

// Close closes the client side.
func (w *WS) Close() { _ = w.Conn.Close() }

// Eventually polls cond until it is true or the deadline passes.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronization
	}
}
