package api_test

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"teamchat/server/config"
	"teamchat/server/files/filestest"
	"teamchat/server/servertest"
)

// Every attachment id a message cannot carry is refused with the contract's
// one text, "attachment N cannot be used here", over REST and WebSocket alike.
func TestAttachmentUnusableIDsHaveTheContractText(t *testing.T) {
	c := newAttachClass(t)
	other := idOf(c.stu.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Elsewhere"}))
	ownersUpload := attID(attMustUpload(t, c.owner, c.conv, "o.txt", "text/plain", []byte("owner's")))
	elsewhere := attID(attMustUpload(t, c.stu, other, "e.txt", "text/plain", []byte("for another conversation")))
	used := attachmentFixture(t, c.stu, c.conv)
	deletedMsg := attID(attMustUpload(t, c.stu, c.conv, "d.txt", "text/plain", []byte("of a deleted message")))
	m := attSend(t, c.stu, c.conv, "to delete", deletedMsg)
	c.stu.Must(204, "DELETE", fmt.Sprintf("/api/v1/messages/%d", int64(m["id"].(float64))), nil)
	fresh := attID(attMustUpload(t, c.stu, c.conv, "f.txt", "text/plain", []byte("usable")))

	cases := []struct {
		name string
		ids  []int64
		bad  int64 // the id the refusal names
	}{
		{"another user's", []int64{ownersUpload}, ownersUpload},
		{"unknown", []int64{999999}, 999999},
		{"already used", []int64{used}, used},
		{"of a deleted message", []int64{deletedMsg}, deletedMsg},
		{"for another conversation", []int64{elsewhere}, elsewhere},
		{"zero", []int64{0}, 0},
		{"negative", []int64{-3}, -3},
		{"twice in one message", []int64{fresh, fresh}, fresh},
		{"a usable one first", []int64{fresh, ownersUpload}, ownersUpload},
	}
	ws := c.stu.DialWS()
	defer ws.Close()
	for i, tc := range cases {
		want := fmt.Sprintf("attachment %d cannot be used here", tc.bad)
		r := c.stu.Do("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", c.conv), map[string]any{"body": "x", "attachment_ids": tc.ids})
		if r.Status != 400 || r.ErrCode() != "bad_request" || r.JSON()["error"].(map[string]any)["message"] != want {
			t.Errorf("REST, %s: %d %s, want 400 %q", tc.name, r.Status, r.Body, want)
		}
		cid := fmt.Sprintf("att-%d", i)
		ws.Send(map[string]any{"type": "send", "conversation_id": c.conv, "client_id": cid, "body": "x", "attachment_ids": tc.ids})
		if f := ws.Expect("error"); f["code"] != "bad_request" || f["message"] != want || f["client_id"] != cid {
			t.Errorf("WebSocket, %s: %v, want %q", tc.name, f, want)
		}
	}
	// Nothing was bound by a refused message: the usable upload still is.
	attSend(t, c.stu, c.conv, "", fresh)
}

// Programs by name are refused over HTTP: the names found accepted before,
// in every disguise the check must see through. The whole list is tested
// entry by entry in server/chat (TestDangerousExtensionsAreRefused).
func TestAttachmentProgramNamesAreRefused(t *testing.T) {
	c := newAttachClass(t)
	for _, ext := range []string{"hta", "lnk", "wsf", "vbe", "jse", "cpl", "pif", "reg", "msix", "py"} {
		for _, name := range []string{"x." + ext, "X." + strings.ToUpper(ext), "notes.pdf." + ext, "x." + ext + ". . ", "x." + ext + "\u200b"} {
			r := attUpload(c.stu, c.conv, name, "text/plain", []byte("harmless text"))
			if r.Status != 400 || r.ErrCode() != "bad_request" || !strings.Contains(string(r.Body), "programs cannot be uploaded") {
				t.Errorf("%q: %d %s", name, r.Status, r.Body)
			}
		}
	}
	for _, name := range []string{"page.xml", "notes.exe.txt", "data.json", "report.pdf"} {
		attMustUpload(t, c.stu, c.conv, name, "text/plain", []byte("text of "+name))
	}
	if n := len(attFiles(t, c.env)); n != 4 {
		t.Errorf("%d files on disk, want the 4 accepted: %v", n, attFiles(t, c.env))
	}
}

// Files and thumbnails are never stored by the browser (a shared lab
// computer keeps no copy after deletion or sign-out), and signing out tells
// the browser to drop this origin's cache, even when the session had expired.
func TestAttachmentCachingAndSignOut(t *testing.T) {
	c := newAttachClass(t)
	s := c.env.Session("stu")
	id := attachmentFixture(t, s, c.conv)
	for _, p := range []string{fmt.Sprintf("/api/v1/attachments/%d", id), fmt.Sprintf("/api/v1/attachments/%d/thumbnail", id)} {
		for _, who := range []*servertest.Client{s, c.owner} {
			r := who.Must(200, "GET", p, nil)
			if got := r.Header.Get("Cache-Control"); got != "private, no-store" {
				t.Errorf("GET %s: Cache-Control %q, want \"private, no-store\"", p, got)
			}
			if r.Header.Get("Expires") != "" || strings.Contains(r.Header.Get("Cache-Control"), "max-age") {
				t.Errorf("GET %s: still cacheable: %v", p, r.Header)
			}
		}
		// A range request is not cacheable either.
		if r := attGet(t, c.owner, p, "Range", "bytes=0-3"); r.Status != 206 || r.Header.Get("Cache-Control") != "private, no-store" {
			t.Errorf("range GET %s: %d %q", p, r.Status, r.Header.Get("Cache-Control"))
		}
	}
	// Sign-out (the web client's DELETE /api/v1/session with its CSRF token).
	r := s.Do("DELETE", "/api/v1/session", nil)
	if r.Status != 204 || r.Header.Get("Clear-Site-Data") != `"cache"` {
		t.Errorf("sign-out: %d, Clear-Site-Data %q", r.Status, r.Header.Get("Clear-Site-Data"))
	}
	// Signed out already (another tab, an expired session): still told to clear.
	r = s.Do("DELETE", "/api/v1/session", nil)
	if r.Status != 401 || r.ErrCode() != "unauthorized" || r.Header.Get("Clear-Site-Data") != `"cache"` {
		t.Errorf("second sign-out: %d %s, Clear-Site-Data %q", r.Status, r.Body, r.Header.Get("Clear-Site-Data"))
	}
	// Nothing else asks the browser to clear its data.
	if r := c.owner.Must(200, "GET", "/api/v1/me", nil); r.Header.Get("Clear-Site-Data") != "" {
		t.Errorf("GET /me carries Clear-Site-Data %q", r.Header.Get("Clear-Site-Data"))
	}
}

// Uploads are limited per account over time, whatever the number of
// sessions and tokens; attempts that are refused count too. Over the limit:
// 429 in the contract's envelope, with Retry-After.
func TestAttachmentUploadRateLimit(t *testing.T) {
	env := servertest.Start(t, func(cfg *config.Config) { cfg.UploadRate, cfg.UploadBurst = 0.01, 3 }) // a token per 100 min
	env.AddUser("prof", "admin")
	owner := env.AddUser("owner", "user")
	stu := env.AddUser("stu", "user")
	conv := idOf(owner.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Lab", "member_ids": []int64{stu.ID()}}))
	second := env.Login("stu")    // another token of the same account
	browser := env.Session("stu") // and a browser session
	attMustUpload(t, stu, conv, "1.txt", "text/plain", []byte("one"))
	if r := attUpload(second, conv, "2.exe", "text/plain", []byte("refused, but counted")); r.Status != 400 {
		t.Fatalf("program: %d %s", r.Status, r.Body)
	}
	attMustUpload(t, browser, conv, "3.txt", "text/plain", []byte("three"))
	for _, c := range []*servertest.Client{stu, second, browser} {
		r := attUpload(c, conv, "4.txt", "text/plain", []byte("four"))
		e, _ := r.JSON()["error"].(map[string]any)
		if r.Status != 429 || r.ErrCode() != "rate_limited" || e == nil || !strings.HasPrefix(e["message"].(string), "too many uploads: wait ") {
			t.Errorf("over the limit: %d %s", r.Status, r.Body)
		}
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 60 {
			t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
		}
	}
	// Another account has its own allowance, and stu can still do the rest.
	attMustUpload(t, owner, conv, "o.txt", "text/plain", []byte("owner's"))
	stu.Must(201, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), map[string]any{"body": "still here"})
	if n := len(attFiles(t, env)); n != 3 {
		t.Errorf("%d files on disk, want 3: %v", n, attFiles(t, env))
	}
}

// The 16-bit bomb over HTTP: stored as a plain file, no thumbnail, and the
// server (in this process) allocates a few MiB for it, not 400 MB.
func TestAttachmentSixteenBitBomb(t *testing.T) {
	c := newAttachClass(t)
	data := filestest.BombPNG16(7071, 7071)
	attMustUpload(t, c.stu, c.conv, "warm-up.txt", "text/plain", []byte("first upload"))
	var a map[string]any
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	a = attMustUpload(t, c.stu, c.conv, "bomb16.png", "image/png", data)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
		t.Errorf("the upload allocated %d MiB", n>>20)
	}
	if a["content_type"] != "application/octet-stream" || a["thumbnail_url"] != "" || a["width"] != float64(0) || a["inline"] != false {
		t.Errorf("bomb stored as %v", a)
	}
	if r := c.stu.Do("GET", fmt.Sprintf("/api/v1/attachments/%d/thumbnail", attID(a)), nil); r.Status != 404 {
		t.Errorf("thumbnail: %d", r.Status)
	}
}
