package api_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"teamchat/server/config"
	"teamchat/server/servertest"
)

// A revocation (class session ended, account disabled or demoted, guest
// expired) must hold against a client that reconnects in a loop while it
// happens: once the revoking call has returned, no socket of that user stays
// open, receives a message posted after it, or has a subscribe answered.
func TestRevocationRacingReconnectsLeavesNoSocket(t *testing.T) {
	const rounds = 12
	type kind struct {
		name string
		// victim returns the client to reconnect with, and the revoking call.
		victim func(t *testing.T, env *servertest.Env, admin *servertest.Client, round int) (*servertest.Client, func())
	}
	kinds := []kind{
		{"session end", func(t *testing.T, env *servertest.Env, admin *servertest.Client, round int) (*servertest.Client, func()) {
			sid := idOf(admin.Must(201, "POST", "/api/v1/sessions", map[string]any{"name": fmt.Sprintf("Lecture %d", round)}))
			g, _ := joinAsGuest(t, env, joinCode(t, admin), fmt.Sprintf("Guest %d", round))
			return g, func() { admin.Must(200, "POST", fmt.Sprintf("/api/v1/sessions/%d/end", sid), nil) }
		}},
		{"disable", func(t *testing.T, env *servertest.Env, admin *servertest.Client, round int) (*servertest.Client, func()) {
			u := env.AddUser(fmt.Sprintf("dis%d", round), "user")
			id := u.ID()
			return u, func() {
				admin.Must(200, "PATCH", fmt.Sprintf("/api/v1/users/%d", id), map[string]any{"disabled": true})
			}
		}},
		{"demote", func(t *testing.T, env *servertest.Env, admin *servertest.Client, round int) (*servertest.Client, func()) {
			u := env.AddUser(fmt.Sprintf("dem%d", round), "admin")
			id := u.ID()
			return u, func() { admin.Must(200, "PATCH", fmt.Sprintf("/api/v1/users/%d", id), map[string]any{"role": "user"}) }
		}},
		{"guest expiry", func(t *testing.T, env *servertest.Env, admin *servertest.Client, round int) (*servertest.Client, func()) {
			g, _ := joinAsGuest(t, env, joinCode(t, admin), fmt.Sprintf("Visitor %d", round))
			id := g.ID()
			return g, func() {
				// The guest's lifetime passes, then the expiry sweep runs.
				db, err := sql.Open("sqlite", "file:"+filepath.Join(env.DataDir, "teamchat.db")+"?_pragma=busy_timeout(10000)")
				if err != nil {
					t.Error(err)
					return
				}
				defer db.Close()
				if _, err := db.Exec(`UPDATE users SET expires_at = 1 WHERE id = ?`, id); err != nil {
					t.Error(err)
				}
				env.Srv.Chat().ExpireGuests(t.Context())
			}
		}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			env := servertest.Start(t, func(c *config.Config) { c.MaxConnsPerIP = 0 })
			admin := env.AddUser("prof", "admin")
			poster := env.AddUser("poster", "user")
			for round := 0; round < rounds; round++ {
				victim, revoke := k.victim(t, env, admin, round)
				raceRevocation(t, env, poster, victim, revoke)
			}
		})
	}
}

// raceRevocation reconnects victim in a loop (each socket subscribing at
// once) from six goroutines, revokes while they do, then checks every socket
// that was opened.
func raceRevocation(t *testing.T, env *servertest.Env, poster, victim *servertest.Client, revoke func()) {
	t.Helper()
	subscribe, _ := json.Marshal(map[string]any{"type": "subscribe", "conversation_id": 1, "after_seq": 0})
	h := http.Header{"Authorization": {"Bearer " + victim.Token}}
	var (
		mu    sync.Mutex
		socks []*servertest.WS
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	opened := make(chan struct{}, 1)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ws, _, err := env.Dial(h)
				if err != nil {
					continue // refused: the revocation has committed
				}
				_ = ws.SendRaw(websocket.TextMessage, subscribe)
				mu.Lock()
				socks = append(socks, ws)
				mu.Unlock()
				select {
				case opened <- struct{}{}:
				default:
				}
			}
		}()
	}
	// Revoke while the loop is going.
	for range 3 {
		select {
		case <-opened:
		case <-time.After(20 * time.Second):
			t.Fatal("no socket opened within 20 s")
		}
	}
	revoke()
	close(stop)
	wg.Wait()

	// After the revoking call: a message is posted, and every socket asks again.
	after := poster.Must(201, "POST", msgsPath(1), map[string]any{"body": "posted after the revocation"}).JSON()
	afterSeq := int64(after["seq"].(float64))
	for _, ws := range socks {
		_ = ws.SendRaw(websocket.TextMessage, subscribe)
	}
	deadline := time.Now().Add(20 * time.Second)
	survivors := 0
	for _, ws := range socks {
		func() {
			// Past the deadline, a socket still gets a second to show it is closed.
			wait := time.After(max(time.Until(deadline), time.Second))
			for {
				select {
				case f, ok := <-ws.Frames:
					if !ok {
						if ce := <-ws.Closed; ce == nil || ce.Code != 4401 {
							t.Errorf("socket closed with %v, want 4401", ce)
						}
						return
					}
					switch {
					case f.Type() == "message" && f.Seq() >= afterSeq:
						t.Errorf("a revoked socket received a message posted after the revocation: %v", f)
					case f.Type() == "subscribed" && f.Int("last_seq") >= afterSeq:
						t.Errorf("a revoked socket's subscribe was answered after the revocation: %v", f)
					}
				case <-wait:
					survivors++
					ws.Close()
					return
				}
			}
		}()
	}
	if survivors > 0 {
		t.Errorf("%d of %d sockets still open 20 s after the revocation", survivors, len(socks))
	}
	victim.Must(401, "GET", "/api/v1/me", nil)
}
