package api

import (
	"context"
	"crypto/subtle"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gorilla/websocket"

	"teamchat/server/chat"
	"teamchat/server/config"
	"teamchat/server/model"
	"teamchat/server/realtime"
)

// SessionCookie is the browser session cookie's name.
const SessionCookie = "teamchat_session"

// Desktop shell origins: WebKitGTK/WKWebView and WebView2.
var desktopOrigins = []string{"wails://wails", "http://wails.localhost"}

// Console tells what the professor's console shows beyond the settings.
type Console interface {
	URLs() []string      // the server's URLs on each LAN address, loopback last
	Fingerprint() string // SHA-256 of the TLS certificate, "" without TLS
}

// API is the HTTP handler set.
type API struct {
	chat    *chat.Service
	log     *slog.Logger
	origins map[string]bool
	assets  fs.FS
	console Console
	version string
	up      websocket.Upgrader
	ctx     context.Context // ends at shutdown
	wsWG    sync.WaitGroup
	hosts   *hostGuard
	conns   *connLimiter
	streams sync.Map // event stream id → *realtime.Client (events.go)
}

// New builds the API from the (validated) configuration.
func New(ctx context.Context, svc *chat.Service, log *slog.Logger, cfg config.Config, assets fs.FS, console Console) *API {
	a := &API{chat: svc, log: log, assets: assets, console: console, version: config.Version, ctx: ctx, origins: map[string]bool{},
		hosts: newHostGuard(cfg.Hosts, cfg.Origins), conns: &connLimiter{max: cfg.MaxConnsPerIP, n: map[string]int{}}}
	for _, o := range append(append([]string{}, desktopOrigins...), cfg.Origins...) {
		a.origins[o] = true
	}
	a.up = websocket.Upgrader{
		ReadBufferSize:  1024,
		WriteBufferSize: 1024,
		WriteBufferPool: &sync.Pool{},
		Subprotocols:    []string{realtime.Protocol}, // batched frames, when the client asks
		CheckOrigin:     a.originAllowed,
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			code := "bad_request"
			if status == http.StatusForbidden {
				code = "forbidden"
			}
			writeErrorCode(w, status, code, "websocket upgrade: "+reason.Error())
		},
	}
	return a
}

// WaitSockets waits until every WebSocket handler has returned.
func (a *API) WaitSockets() { a.wsWG.Wait() }

type route struct {
	pattern string
	handler http.HandlerFunc
}

// routes is every route of the API, in one list.
func (a *API) routes() []route {
	rt := []route{
		{"GET /healthz", a.healthz},
		{"GET /api/v1/info", a.info},
		{"POST /api/v1/session", a.open(a.createSession)},
		{"GET /api/v1/session", a.signedIn(a.getSession)},
		{"DELETE /api/v1/session", clearCacheOnSignOut(a.signedIn(a.deleteSession))},
		{"POST /api/v1/session/ticket", a.open(a.redeemTicket)},
		{"POST /api/v1/auth/token", a.open(a.token)},
		{"POST /api/v1/auth/refresh", a.open(a.refresh)},
		{"POST /api/v1/auth/revoke", a.open(a.revoke)},
		{"POST /api/v1/auth/register", a.open(a.register)},
		{"POST /api/v1/auth/guest", a.open(a.guest)},
		{"GET /api/v1/me", a.signedIn(a.getMe)},
		{"PATCH /api/v1/me", a.signedIn(a.patchMe)},
		{"GET /api/v1/users", a.signedIn(a.listUsers)},
		{"POST /api/v1/users", a.signedIn(a.createUser)},
		{"PATCH /api/v1/users/{id}", a.signedIn(a.patchUser)},
		{"DELETE /api/v1/users/{id}", a.signedIn(a.deleteUser)},
		{"GET /api/v1/settings", a.signedIn(a.getSettings)},
		{"PATCH /api/v1/settings", a.signedIn(a.patchSettings)},
		{"GET /api/v1/console", a.signedIn(a.getConsole)},
		{"GET /api/v1/conversations", a.signedIn(a.listConversations)},
		{"POST /api/v1/conversations", a.signedIn(a.createConversation)},
		{"GET /api/v1/conversations/{id}", a.signedIn(a.getConversation)},
		{"PATCH /api/v1/conversations/{id}", a.signedIn(a.patchConversation)},
		{"DELETE /api/v1/conversations/{id}", a.signedIn(a.deleteConversation)},
		{"GET /api/v1/conversations/{id}/members", a.signedIn(a.listMembers)},
		{"POST /api/v1/conversations/{id}/members", a.signedIn(a.addMember)},
		{"DELETE /api/v1/conversations/{id}/members/{user_id}", a.signedIn(a.removeMember)},
		{"GET /api/v1/conversations/{id}/messages", a.signedIn(a.listMessages)},
		{"POST /api/v1/conversations/{id}/messages", a.signedIn(a.postMessage)},
		{"POST /api/v1/conversations/{id}/read", a.signedIn(a.markRead)},
		{"DELETE /api/v1/messages/{id}", a.signedIn(a.deleteMessage)},
		{"POST /api/v1/conversations/{id}/mutes", a.signedIn(a.muteMember)},
		{"GET /api/v1/conversations/{id}/mutes", a.signedIn(a.listMutes)},
		{"DELETE /api/v1/conversations/{id}/mutes/{user_id}", a.signedIn(a.unmuteMember)},
		{"POST /api/v1/messages/{id}/pin", a.signedIn(a.pinMessage)},
		{"DELETE /api/v1/messages/{id}/pin", a.signedIn(a.unpinMessage)},
		{"GET /api/v1/conversations/{id}/pins", a.signedIn(a.listPins)},
		{"POST /api/v1/announcements", a.signedIn(a.postAnnouncement)},
		{"GET /api/v1/audit", a.signedIn(a.listAudit)},
		{"GET /api/v1/ws", a.serveWS},
	}
	rt = append(rt, a.exportRoutes()...)
	rt = append(rt, a.sessionRoutes()...)
	rt = append(rt, a.attachmentRoutes()...)
	rt = append(rt, a.featureRoutes()...)
	rt = append(rt, a.docRoutes()...)
	rt = append(rt, a.eventRoutes()...)
	return rt
}

// Handler returns the whole HTTP handler.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range a.routes() {
		mux.HandleFunc(rt.pattern, rt.handler)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(mux, r); allow != "" {
			w.Header().Set("Allow", allow)
			writeErrorCode(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this path; allowed: "+allow)
			return
		}
		writeErrorCode(w, http.StatusNotFound, "not_found", "no such API path")
	})
	mux.Handle("/", a.spa())
	return a.middleware(mux)
}

// allowedMethods lists the methods that have a route for r's path.
func allowedMethods(mux *http.ServeMux, r *http.Request) string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/api/" {
			allow = append(allow, m)
		}
	}
	return strings.Join(allow, ", ")
}

// Routes lists every route pattern (tests use it so no route goes untested).
func Routes() []string {
	var out []string
	for _, rt := range (&API{}).routes() {
		out = append(out, rt.pattern)
	}
	return out
}

// middleware adds security headers, caps bodies, and answers the mux's own
// 404/405 under /api/ with the error envelope.
func (a *API) middleware(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "+
			"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "+
			"frame-ancestors 'none'; form-action 'self'")
		if !a.hosts.allowed(r) {
			writeErrorCode(w, http.StatusMisdirectedRequest, "forbidden", "unknown host name: open this server by its address or a name given with --host")
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, bodyLimit(r)) // MaxBody; uploads: attachments.go
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			if _, pattern := mux.Handler(r); pattern == "" {
				mux.ServeHTTP(&envelopeWriter{ResponseWriter: w}, r)
				return
			}
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.Error("panic in handler", "path", r.URL.Path, "panic", v)
				writeErrorCode(w, http.StatusInternalServerError, "internal", "internal error")
			}
		}()
		mux.ServeHTTP(w, r)
	})
}

// ---- authentication ----

type caller struct {
	user   model.User
	cookie string // the session cookie, when authenticated by it
	csrf   string
}

// authenticate finds the caller: a Bearer access token, else the session cookie.
func (a *API) authenticate(r *http.Request) (caller, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return caller{}, &model.Error{Kind: model.ErrUnauthorized, Msg: "Authorization: want Bearer <token>"}
		}
		u, err := a.chat.UserFromAccessToken(r.Context(), strings.TrimSpace(tok))
		return caller{user: u}, err
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		u, csrf, err := a.chat.UserFromSession(r.Context(), c.Value)
		return caller{user: u, cookie: c.Value, csrf: csrf}, err
	}
	return caller{}, &model.Error{Kind: model.ErrUnauthorized, Msg: "sign in first"}
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c caller) error

// signedIn wraps a handler that needs a caller; cookie-authenticated unsafe
// requests must carry the session's CSRF token.
func (a *API) signedIn(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := a.authenticate(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if c.cookie != "" && unsafeMethod(r.Method) {
			got := r.Header.Get("X-CSRF-Token")
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(c.csrf)) != 1 {
				a.writeError(w, r, model.Forbidden("missing or wrong X-CSRF-Token header"))
				return
			}
		}
		if err := h(w, r, c); err != nil {
			a.writeError(w, r, err)
		}
	}
}

// open wraps a handler that needs no caller.
func (a *API) open(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	}
}

func requireAdmin(c caller) error {
	if c.user.Role != model.RoleAdmin {
		return model.Forbidden("only admins can do this")
	}
	return nil
}

// pathID reads a positive integer path parameter; anything else is 404.
func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, model.NotFound(name)
	}
	return id, nil
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ---- origins ----

// ownOrigin is scheme://host[:port] of the request itself.
func ownOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	o, err := config.NormalizeOrigin(scheme + "://" + r.Host)
	if err != nil {
		return ""
	}
	return o
}

// sessionOrigin refuses a request that would set the session cookie when it
// comes from another site's page (login CSRF: signing the visitor into an
// account the other site chose). Browsers send Origin with every POST, and
// Sec-Fetch-Site too; a request with neither is not from a browser page
// (curl, API clients) and carries no ambient credentials to misuse.
func (a *API) sessionOrigin(r *http.Request) error {
	if r.Header.Get("Origin") != "" {
		if a.originAllowed(r) {
			return nil
		}
		return model.Forbidden("sign-in from another site's page refused (Origin)")
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return nil
	}
	return model.Forbidden("sign-in from another site's page refused (Sec-Fetch-Site)")
}

// originAllowed accepts the request's own origin, the desktop shell's and the
// configured extras, comparing scheme, host and port. A missing Origin passes
// here; the WebSocket handler refuses it for cookie authentication.
func (a *API) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	n, err := config.NormalizeOrigin(o)
	if err != nil {
		return false
	}
	return n == ownOrigin(r) || a.origins[n]
}
