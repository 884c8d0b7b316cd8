package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"teamchat/server/files/filestest"
	"teamchat/server/servertest"
)

// ---- helpers ----

// attUpload posts data as a file with the given declared Content-Type.
func attUpload(c *servertest.Client, conv int64, name, ctype string, data []byte) servertest.Resp {
	c.Env.T.Helper()
	cp := *c
	cp.Header = c.Header.Clone()
	cp.Header.Set("Content-Type", ctype)
	q := url.Values{}
	q.Set("conversation_id", fmt.Sprint(conv))
	q.Set("name", name)
	return cp.Do("POST", "/api/v1/attachments?"+q.Encode(), data)
}

func attMustUpload(t *testing.T, c *servertest.Client, conv int64, name, ctype string, data []byte) map[string]any {
	t.Helper()
	r := attUpload(c, conv, name, ctype, data)
	if r.Status != 201 {
		t.Fatalf("upload %s: %d %s", name, r.Status, r.Body)
	}
	return r.JSON()
}

func attID(a map[string]any) int64 { return int64(a["id"].(float64)) }

// attGet fetches a path with extra request headers.
func attGet(t *testing.T, c *servertest.Client, path string, hdr ...string) servertest.Resp {
	t.Helper()
	cp := *c
	cp.Header = c.Header.Clone()
	for i := 0; i+1 < len(hdr); i += 2 {
		cp.Header.Set(hdr[i], hdr[i+1])
	}
	return cp.Do("GET", path, nil)
}

// attSend sends a message carrying the attachments and returns it.
func attSend(t *testing.T, c *servertest.Client, conv int64, body string, ids ...int64) map[string]any {
	t.Helper()
	return c.Must(201, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv),
		map[string]any{"body": body, "attachment_ids": ids}).JSON()
}

func attPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 3), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func attSHA(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// attFiles lists the files under <data>/attachments (relative), tmp included.
func attFiles(t *testing.T, env *servertest.Env) []string {
	t.Helper()
	return filestest.Tree(t, filepath.Join(env.DataDir, "attachments"))
}

type attachClass struct {
	env                         *servertest.Env
	admin, owner, stu, outsider *servertest.Client
	conv                        int64
}

// newAttachClass: an admin, a group owned by "owner" with "stu" in it, and an outsider.
func newAttachClass(t *testing.T) *attachClass {
	t.Helper()
	env := servertest.Start(t)
	c := &attachClass{env: env, admin: env.AddUser("prof", "admin"), owner: env.AddUser("owner", "user"),
		stu: env.AddUser("stu", "user"), outsider: env.AddUser("outsider", "user")}
	c.conv = idOf(c.owner.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Lab", "member_ids": []int64{c.stu.ID()}}))
	return c
}

// attachmentFixture uploads a small PNG as member and sends it in conv; it returns the attachment id.
func attachmentFixture(t *testing.T, member *servertest.Client, conv int64) int64 {
	t.Helper()
	a := attMustUpload(t, member, conv, "pic.png", "image/png", attPNG(t, 8, 8))
	attSend(t, member, conv, "", attID(a))
	return attID(a)
}

// ---- tests ----

func TestAttachmentRoundTrip(t *testing.T) {
	c := newAttachClass(t)
	notes := []byte("Notes for Monday\nbring a laptop\n")
	// The declared type lies: the bytes decide.
	a := attMustUpload(t, c.stu, c.conv, "notes.txt", "image/png", notes)
	id := attID(a)
	want := map[string]any{"name": "notes.txt", "content_type": "text/plain; charset=utf-8", "size": float64(len(notes)),
		"width": float64(0), "height": float64(0), "inline": false, "url": fmt.Sprintf("/api/v1/attachments/%d", id), "thumbnail_url": ""}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("attachment %s = %v, want %v (%v)", k, a[k], v, a)
		}
	}
	path := fmt.Sprintf("/api/v1/attachments/%d", id)
	// Unused: the uploader only.
	r := c.stu.Must(200, "GET", path, nil)
	if !bytes.Equal(r.Body, notes) {
		t.Fatalf("downloaded %q", r.Body)
	}
	for h, v := range map[string]string{
		"Content-Type":            "text/plain; charset=utf-8",
		"Content-Disposition":     `attachment; filename="notes.txt"; filename*=UTF-8''notes.txt`,
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "sandbox; default-src 'none'",
		"Cache-Control":           "private, no-store",
		"ETag":                    `"` + attSHA(notes) + `"`,
	} {
		if got := r.Header.Get(h); got != v {
			t.Errorf("%s: %q, want %q", h, got, v)
		}
	}
	for _, who := range []*servertest.Client{c.owner, c.admin, c.outsider} {
		if r := who.Do("GET", path, nil); r.Status != 404 || r.ErrCode() != "not_found" {
			t.Errorf("someone else read an unused upload: %d %s", r.Status, r.Body)
		}
	}
	// Sent: everyone who may read the conversation.
	m := attSend(t, c.stu, c.conv, "", id)
	if atts := m["attachments"].([]any); len(atts) != 1 || attID(atts[0].(map[string]any)) != id {
		t.Fatalf("message attachments: %v", m["attachments"])
	}
	for _, who := range []*servertest.Client{c.owner, c.admin, c.stu} {
		if r := who.Must(200, "GET", path, nil); !bytes.Equal(r.Body, notes) {
			t.Fatalf("downloaded %q", r.Body)
		}
	}
	if r := c.outsider.Do("GET", path, nil); r.Status != 404 {
		t.Errorf("outsider: %d", r.Status)
	}
	// Range and conditional requests.
	r = attGet(t, c.owner, path, "Range", "bytes=0-4")
	if r.Status != 206 || string(r.Body) != "Notes" || r.Header.Get("Content-Range") != fmt.Sprintf("bytes 0-4/%d", len(notes)) {
		t.Errorf("range: %d %q %q", r.Status, r.Body, r.Header.Get("Content-Range"))
	}
	r = attGet(t, c.owner, path, "Range", "bytes=5000-6000")
	if r.Status != 416 || r.ErrCode() == "" {
		t.Errorf("unsatisfiable range: %d %s", r.Status, r.Body)
	}
	if r = attGet(t, c.owner, path, "If-None-Match", `"`+attSHA(notes)+`"`); r.Status != 304 || len(r.Body) != 0 {
		t.Errorf("if-none-match: %d", r.Status)
	}
	// A non-ASCII name: RFC 5987 with an ASCII fallback.
	pdf := []byte("%PDF-1.4\n1 0 obj\n")
	p := attMustUpload(t, c.stu, c.conv, "Résumé \"final\" 📄.pdf", "application/octet-stream", pdf)
	if p["content_type"] != "application/pdf" || p["name"] != "Résumé \"final\" 📄.pdf" {
		t.Fatalf("pdf: %v", p)
	}
	r = c.stu.Must(200, "GET", fmt.Sprintf("/api/v1/attachments/%d", attID(p)), nil)
	wantCD := `attachment; filename="R_sum_ _final_ _.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22%20%F0%9F%93%84.pdf`
	if r.Header.Get("Content-Type") != "application/pdf" || r.Header.Get("Content-Disposition") != wantCD {
		t.Errorf("pdf served as %q, %q", r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"))
	}
	// Deleting the message makes its files unreachable at once.
	c.stu.Must(204, "DELETE", fmt.Sprintf("/api/v1/messages/%d", int64(m["id"].(float64))), nil)
	for _, who := range []*servertest.Client{c.owner, c.admin, c.stu} {
		if r := who.Do("GET", path, nil); r.Status != 404 || r.ErrCode() != "not_found" {
			t.Errorf("file of a deleted message: %d %s", r.Status, r.Body)
		}
	}
	// A used attachment cannot be sent again.
	if r := c.stu.Do("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", c.conv), map[string]any{"body": "again", "attachment_ids": []int64{id}}); r.Status != 400 {
		t.Errorf("reusing an attachment: %d %s", r.Status, r.Body)
	}
}

func TestAttachmentImages(t *testing.T) {
	c := newAttachClass(t)
	img := image.NewPaletted(image.Rect(0, 0, 90, 30), []color.Color{color.Black, color.White})
	var gifData, jpegData bytes.Buffer
	if err := gif.Encode(&gifData, img, nil); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&jpegData, image.NewRGBA(image.Rect(0, 0, 1000, 500)), nil); err != nil {
		t.Fatal(err)
	}
	webp, err := os.ReadFile("../files/testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, ctype string
		data        []byte
		w, h        int
		thumb       image.Point
	}{
		{"photo.png", "image/png", attPNG(t, 640, 480), 640, 480, image.Pt(320, 240)},
		{"photo.jpg", "image/jpeg", jpegData.Bytes(), 1000, 500, image.Pt(320, 160)},
		{"anim.gif", "image/gif", gifData.Bytes(), 90, 30, image.Pt(90, 30)},
		{"pic.webp", "image/webp", webp, 150, 100, image.Pt(150, 100)},
		// The name does not matter: a PNG called .html is a PNG.
		{"page.html", "image/png", attPNG(t, 10, 20), 10, 20, image.Pt(10, 20)},
	}
	for _, tc := range cases {
		a := attMustUpload(t, c.stu, c.conv, tc.name, "application/octet-stream", tc.data)
		id := attID(a)
		if a["content_type"] != tc.ctype || a["inline"] != true || a["width"] != float64(tc.w) || a["height"] != float64(tc.h) ||
			a["thumbnail_url"] != fmt.Sprintf("/api/v1/attachments/%d/thumbnail", id) {
			t.Errorf("%s: %v", tc.name, a)
			continue
		}
		path := fmt.Sprintf("/api/v1/attachments/%d", id)
		r := c.stu.Must(200, "GET", path, nil)
		if r.Header.Get("Content-Type") != tc.ctype || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "inline; ") ||
			!bytes.Equal(r.Body, tc.data) || r.Header.Get("Content-Security-Policy") != "sandbox; default-src 'none'" {
			t.Errorf("%s served as %q %q", tc.name, r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"))
		}
		r = c.stu.Must(200, "GET", path+"?download=1", nil)
		if !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment; ") {
			t.Errorf("%s ?download=1: %q", tc.name, r.Header.Get("Content-Disposition"))
		}
		r = c.stu.Must(200, "GET", path+"/thumbnail", nil)
		th, err := jpeg.Decode(bytes.NewReader(r.Body))
		if err != nil || r.Header.Get("Content-Type") != "image/jpeg" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s thumbnail: %v %q", tc.name, err, r.Header.Get("Content-Type"))
			continue
		}
		if th.Bounds().Size() != tc.thumb {
			t.Errorf("%s thumbnail is %v, want %v", tc.name, th.Bounds().Size(), tc.thumb)
		}
	}
	// A file that is not an image has no thumbnail.
	txt := attMustUpload(t, c.stu, c.conv, "a.txt", "text/plain", []byte("hi"))
	if r := c.stu.Do("GET", fmt.Sprintf("/api/v1/attachments/%d/thumbnail", attID(txt)), nil); r.Status != 404 || r.ErrCode() != "not_found" {
		t.Errorf("thumbnail of a text file: %d %s", r.Status, r.Body)
	}
}

func TestAttachmentActiveContentIsNeverInline(t *testing.T) {
	c := newAttachClass(t)
	cases := []struct{ name, ctype, data string }{
		{"x.svg", "image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"/>`},
		{"y.svg", "image/svg+xml", `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`},
		{"z.html", "text/html", `<!DOCTYPE html><html><script>fetch('/api/v1/me')</script></html>`},
		{"photo.png", "image/png", `<html><body onload="alert(1)">not a png</body></html>`},
		{"w.xhtml", "application/xhtml+xml", `<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>`},
	}
	for _, tc := range cases {
		a := attMustUpload(t, c.stu, c.conv, tc.name, tc.ctype, []byte(tc.data))
		if a["inline"] != false || a["thumbnail_url"] != "" {
			t.Errorf("%s is inline: %v", tc.name, a)
		}
		ct := a["content_type"].(string)
		if ct != "application/octet-stream" && ct != "text/plain; charset=utf-8" {
			t.Errorf("%s has content_type %q", tc.name, ct)
		}
		r := c.stu.Must(200, "GET", fmt.Sprintf("/api/v1/attachments/%d", attID(a)), nil)
		if r.Header.Get("Content-Type") != ct || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment; ") ||
			r.Header.Get("Content-Security-Policy") != "sandbox; default-src 'none'" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s served with %v", tc.name, r.Header)
		}
	}
}

func TestAttachmentRefusals(t *testing.T) {
	c := newAttachClass(t)
	refused := []struct{ name, data string }{
		{"setup.bin", "MZ\x90\x00\x03\x00\x00\x00"},
		{"tool", "\x7fELF\x02\x01\x01\x00"},
		{"app", "\xcf\xfa\xed\xfe\x07\x00\x00\x01"},
		{"fat", "\xca\xfe\xba\xbe\x00\x00\x00\x02"},
		{"run.txt", "#!/bin/sh\nrm -rf ~\n"},
		{"game.EXE", "harmless text"},
		{"script.Js", "alert(1)"},
		{"install.msi", "x"}, {"a.bat", "x"}, {"a.cmd", "x"}, {"a.com", "x"}, {"a.scr", "x"}, {"a.ps1", "x"},
		{"a.vbs", "x"}, {"a.jar", "x"}, {"a.sh", "x"}, {"a.app", "x"}, {"a.apk", "x"}, {"a.dll", "x"},
		{"trick.exe. . ", "x"}, {"dir/evil.sh", "x"}, {"evil\u202Etxt.exe", "x"},
	}
	for _, tc := range refused {
		r := attUpload(c.stu, c.conv, tc.name, "text/plain", []byte(tc.data))
		if r.Status != 400 || r.ErrCode() != "bad_request" {
			t.Errorf("%q accepted: %d %s", tc.name, r.Status, r.Body)
		}
	}
	if r := attUpload(c.stu, c.conv, "empty.txt", "text/plain", []byte{}); r.Status != 400 || r.ErrCode() != "bad_request" {
		t.Errorf("empty file: %d %s", r.Status, r.Body)
	}
	if r := c.stu.Do("POST", "/api/v1/attachments?name=a.txt", "data"); r.Status != 400 {
		t.Errorf("no conversation_id: %d %s", r.Status, r.Body)
	}
	if r := c.stu.Do("POST", "/api/v1/attachments?conversation_id=x", "data"); r.Status != 400 {
		t.Errorf("conversation_id=x: %d %s", r.Status, r.Body)
	}
	// File names are cleaned.
	for in, want := range map[string]string{
		`C:\Users\me\report.pdf`:           "report.pdf",
		"../../etc/passwd":                 "passwd",
		"a\x00b\nc\u202Ed.txt":             "abcd.txt",
		"":                                 "file",
		"...":                              "file",
		strings.Repeat("é", 300) + ".docx": strings.Repeat("é", 195) + ".docx",
		"notes.txt.  ":                     "notes.txt",
		"\u2066quiz\u2069 answers.txt":     "quiz answers.txt",
		"\xff\xfeinvalid utf-8.txt":        "invalid utf-8.txt",
		"spaces are fine & so is 'punctuation'.md":    "spaces are fine & so is 'punctuation'.md",
		"\u05e2\u05d1\u05e8\u05d9\u05ea (hebrew).txt": "\u05e2\u05d1\u05e8\u05d9\u05ea (hebrew).txt",
	} {
		a := attMustUpload(t, c.stu, c.conv, in, "text/plain", []byte("content of "+in))
		if a["name"] != want {
			t.Errorf("name %q stored as %q, want %q", in, a["name"], want)
		}
	}
	// Size limit (max_upload_mib), with and without Content-Length.
	c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"max_upload_mib": 1})
	big := bytes.Repeat([]byte("a"), 1<<20+1)
	if r := attUpload(c.stu, c.conv, "big.txt", "text/plain", big); r.Status != 413 || r.ErrCode() != "too_large" {
		t.Errorf("1 MiB + 1 with Content-Length: %d %s", r.Status, r.Body)
	}
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/attachments?conversation_id=%d&name=big.txt", c.env.URL, c.conv),
		io.MultiReader(bytes.NewReader(big))) // no length known: chunked
	req.Header.Set("Authorization", "Bearer "+c.stu.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 413 || !strings.Contains(string(body), `"too_large"`) || req.ContentLength != 0 {
		t.Errorf("1 MiB + 1 chunked: %d %s", res.StatusCode, body)
	}
	attMustUpload(t, c.stu, c.conv, "exact.txt", "text/plain", big[:1<<20])
	// Quota: the sum of all of the user's attachments, used or not.
	c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"upload_quota_mib": 3})
	attMustUpload(t, c.stu, c.conv, "b.txt", "text/plain", bytes.Repeat([]byte("b"), 1<<20))
	if r := attUpload(c.stu, c.conv, "c.txt", "text/plain", bytes.Repeat([]byte("c"), 1<<20)); r.Status != 413 || r.ErrCode() != "too_large" {
		t.Errorf("over quota: %d %s", r.Status, r.Body)
	}
	attMustUpload(t, c.owner, c.conv, "c.txt", "text/plain", bytes.Repeat([]byte("c"), 1<<20)) // another user's quota
	// No refused upload left a file behind: one blob per stored row.
	n := 0
	for _, f := range attFiles(t, c.env) {
		if !strings.HasSuffix(f, ".thumb.jpg") {
			n++
		}
	}
	if n != 11+3 { // the cleaned names (11 distinct contents) and exact, b, c
		t.Errorf("%d files on disk, want 14: %v", n, attFiles(t, c.env))
	}
	// Paused class and mutes refuse uploads like sending, with the same messages.
	c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"paused": true, "upload_quota_mib": 100})
	r := attUpload(c.stu, c.conv, "p.txt", "text/plain", []byte("paused?"))
	sent := c.stu.Do("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", c.conv), map[string]any{"body": "paused?"})
	if r.Status != 403 || sent.Status != 403 || r.JSON()["error"].(map[string]any)["message"] != sent.JSON()["error"].(map[string]any)["message"] {
		t.Errorf("paused: upload %d %s, send %d %s", r.Status, r.Body, sent.Status, sent.Body)
	}
	attMustUpload(t, c.admin, c.conv, "admin.txt", "text/plain", []byte("admins may"))
	c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"paused": false})
	c.owner.Must(201, "POST", fmt.Sprintf("/api/v1/conversations/%d/mutes", c.conv), map[string]any{"user_id": c.stu.ID(), "minutes": 5})
	r = attUpload(c.stu, c.conv, "m.txt", "text/plain", []byte("muted?"))
	sent = c.stu.Do("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", c.conv), map[string]any{"body": "muted?"})
	if r.Status != 403 || !strings.Contains(string(r.Body), "you are muted in this conversation until") ||
		r.JSON()["error"].(map[string]any)["message"] != sent.JSON()["error"].(map[string]any)["message"] {
		t.Errorf("muted: upload %d %s, send %d %s", r.Status, r.Body, sent.Status, sent.Body)
	}
}

func TestAttachmentAuthorization(t *testing.T) {
	c := newAttachClass(t)
	// Non-members: 404 for upload, download and thumbnail.
	if r := attUpload(c.outsider, c.conv, "a.txt", "text/plain", []byte("x")); r.Status != 404 || r.ErrCode() != "not_found" {
		t.Errorf("outsider upload: %d %s", r.Status, r.Body)
	}
	if r := attUpload(c.stu, 999999, "a.txt", "text/plain", []byte("x")); r.Status != 404 {
		t.Errorf("upload to no conversation: %d %s", r.Status, r.Body)
	}
	// An outsider's own unused upload elsewhere cannot be read by a member either.
	other := idOf(c.outsider.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Private"}))
	secret := attMustUpload(t, c.outsider, other, "secret.png", "image/png", attPNG(t, 4, 4))
	for _, who := range []*servertest.Client{c.stu, c.owner} {
		for _, suffix := range []string{"", "/thumbnail"} {
			if r := who.Do("GET", fmt.Sprintf("/api/v1/attachments/%d%s", attID(secret), suffix), nil); r.Status != 404 {
				t.Errorf("someone's unused upload%s: %d", suffix, r.Status)
			}
		}
	}
	id := attachmentFixture(t, c.stu, c.conv)
	for _, suffix := range []string{"", "/thumbnail"} {
		p := fmt.Sprintf("/api/v1/attachments/%d%s", id, suffix)
		if r := c.outsider.Do("GET", p, nil); r.Status != 404 || r.ErrCode() != "not_found" {
			t.Errorf("outsider GET %s: %d %s", p, r.Status, r.Body)
		}
		if r := c.env.Anon().Do("GET", p, nil); r.Status != 401 {
			t.Errorf("anonymous GET %s: %d", p, r.Status)
		}
		c.owner.Must(200, "GET", p, nil)
	}
	// A member who leaves loses access.
	c.owner.Must(204, "DELETE", fmt.Sprintf("/api/v1/conversations/%d/members/%d", c.conv, c.stu.ID()), nil)
	if r := c.stu.Do("GET", fmt.Sprintf("/api/v1/attachments/%d", id), nil); r.Status != 404 {
		t.Errorf("removed member: %d", r.Status)
	}
	for _, p := range []string{"/api/v1/attachments/0", "/api/v1/attachments/abc", "/api/v1/attachments/99999/thumbnail"} {
		if r := c.owner.Do("GET", p, nil); r.Status != 404 || r.ErrCode() != "not_found" {
			t.Errorf("GET %s: %d %s", p, r.Status, r.Body)
		}
	}
	// Cookie sessions need the CSRF header to upload.
	s := c.env.Session("owner")
	noCSRF := *s
	noCSRF.CSRF = ""
	if r := attUpload(&noCSRF, c.conv, "a.txt", "text/plain", []byte("csrf")); r.Status != 403 || r.ErrCode() != "forbidden" {
		t.Errorf("upload without CSRF token: %d %s", r.Status, r.Body)
	}
	wrong := *s
	wrong.CSRF = "forged"
	if r := attUpload(&wrong, c.conv, "a.txt", "text/plain", []byte("csrf")); r.Status != 403 {
		t.Errorf("upload with a wrong CSRF token: %d %s", r.Status, r.Body)
	}
	a := attMustUpload(t, s, c.conv, "a.txt", "text/plain", []byte("csrf"))
	s.Must(200, "GET", fmt.Sprintf("/api/v1/attachments/%d", attID(a)), nil) // reads need no token
}

func TestAttachmentDecompressionBomb(t *testing.T) {
	c := newAttachClass(t)
	for _, dims := range [][2]uint32{{30000, 30000}, {10000, 6000}, {1 << 30, 1}} {
		data := filestest.BombPNG(dims[0], dims[1])
		start := time.Now()
		a := attMustUpload(t, c.stu, c.conv, "bomb.png", "image/png", data)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%v: upload took %v", dims, d)
		}
		if a["width"] != float64(0) || a["height"] != float64(0) || a["thumbnail_url"] != "" || a["inline"] != false ||
			a["content_type"] != "application/octet-stream" || a["size"] != float64(len(data)) {
			t.Errorf("%v: %v", dims, a)
		}
		r := c.stu.Must(200, "GET", fmt.Sprintf("/api/v1/attachments/%d", attID(a)), nil)
		if !bytes.Equal(r.Body, data) || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment; ") {
			t.Errorf("%v: served %q", dims, r.Header.Get("Content-Disposition"))
		}
		if r := c.stu.Do("GET", fmt.Sprintf("/api/v1/attachments/%d/thumbnail", attID(a)), nil); r.Status != 404 {
			t.Errorf("%v: thumbnail %d", dims, r.Status)
		}
	}
	c.stu.Must(200, "GET", "/api/v1/me", nil) // still serving
}

func TestAttachmentSweeper(t *testing.T) {
	c := newAttachClass(t)
	ctx := context.Background()
	unused := attMustUpload(t, c.stu, c.conv, "unused.txt", "text/plain", []byte("never sent"))
	deleted := attMustUpload(t, c.stu, c.conv, "deleted.png", "image/png", attPNG(t, 5, 5))
	kept := attMustUpload(t, c.stu, c.conv, "kept.png", "image/png", attPNG(t, 6, 6))
	m := attSend(t, c.stu, c.conv, "bye", attID(deleted))
	attSend(t, c.stu, c.conv, "stays", attID(kept))
	c.stu.Must(204, "DELETE", fmt.Sprintf("/api/v1/messages/%d", int64(m["id"].(float64))), nil)
	// Leftovers of a crash: a temporary file and a blob without a row (with its thumbnail).
	root := filepath.Join(c.env.DataDir, "attachments")
	orphan := attSHA([]byte("orphan"))
	os.MkdirAll(filepath.Join(root, orphan[:2]), 0o700)
	os.WriteFile(filepath.Join(root, orphan[:2], orphan), []byte("orphan"), 0o600)
	os.WriteFile(filepath.Join(root, orphan[:2], orphan+".thumb.jpg"), []byte("jpeg"), 0o600)
	os.WriteFile(filepath.Join(root, "tmp", "put-crashed"), []byte("half"), 0o600)

	// With the real cutoff (24 h) the fresh unused upload stays; the deleted message's file goes.
	res, err := c.env.Srv.Chat().SweepAttachments(ctx, time.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 1 || res.Blobs != 2 || res.Temp != 1 {
		t.Errorf("first sweep: %+v", res)
	}
	c.stu.Must(200, "GET", fmt.Sprintf("/api/v1/attachments/%d", attID(unused)), nil)
	c.stu.Must(200, "GET", fmt.Sprintf("/api/v1/attachments/%d/thumbnail", attID(kept)), nil)
	want := func(hashes ...string) []string {
		var out []string
		for _, h := range hashes {
			out = append(out, filepath.Join(h[:2], h))
		}
		out = append(out, filepath.Join(attSHA(attPNG(t, 6, 6))[:2], attSHA(attPNG(t, 6, 6))+".thumb.jpg"))
		sort.Strings(out)
		return out
	}
	if got, w := attFiles(t, c.env), want(attSHA([]byte("never sent")), attSHA(attPNG(t, 6, 6))); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("after the first sweep:\n got %v\nwant %v", got, w)
	}
	// A cutoff in the future makes the unused upload old enough.
	res, err = c.env.Srv.Chat().SweepAttachments(ctx, time.Now().Add(time.Minute))
	if err != nil || res.Rows != 1 || res.Blobs != 1 {
		t.Errorf("second sweep: %+v %v", res, err)
	}
	if r := c.stu.Do("GET", fmt.Sprintf("/api/v1/attachments/%d", attID(unused)), nil); r.Status != 404 {
		t.Errorf("swept upload: %d", r.Status)
	}
	if got, w := attFiles(t, c.env), want(attSHA(attPNG(t, 6, 6))); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("after the second sweep:\n got %v\nwant %v", got, w)
	}
	c.owner.Must(200, "GET", fmt.Sprintf("/api/v1/attachments/%d", attID(kept)), nil)
	// The same content uploaded twice is stored once; the file stays while a row uses it.
	again := attMustUpload(t, c.owner, c.conv, "same.png", "image/png", attPNG(t, 6, 6))
	if res, _ := c.env.Srv.Chat().SweepAttachments(ctx, time.Now().Add(time.Minute)); res.Rows != 1 || res.Blobs != 0 {
		t.Errorf("third sweep: %+v", res)
	}
	if r := c.owner.Do("GET", fmt.Sprintf("/api/v1/attachments/%d", attID(again)), nil); r.Status != 404 {
		t.Errorf("swept duplicate: %d", r.Status)
	}
	c.owner.Must(200, "GET", fmt.Sprintf("/api/v1/attachments/%d", attID(kept)), nil)
}

// TestAttachmentSweepAtStart: leftovers of a crash are removed when the server starts.
func TestAttachmentSweepAtStart(t *testing.T) {
	dir := t.TempDir()
	env := servertest.StartIn(t, dir)
	admin := env.AddUser("prof", "admin")
	a := attMustUpload(t, admin, 1, "keep.txt", "text/plain", []byte("keep me"))
	env.Stop()
	root := filepath.Join(dir, "attachments")
	orphan := attSHA([]byte("orphan"))
	os.MkdirAll(filepath.Join(root, orphan[:2]), 0o700)
	os.WriteFile(filepath.Join(root, orphan[:2], orphan), []byte("orphan"), 0o600)
	os.WriteFile(filepath.Join(root, "tmp", "put-crashed"), []byte("half"), 0o600)
	env2 := servertest.StartIn(t, dir)
	keep := filepath.Join(attSHA([]byte("keep me"))[:2], attSHA([]byte("keep me")))
	servertest.Eventually(t, "the startup sweep", func() bool {
		return fmt.Sprint(attFiles(t, env2)) == fmt.Sprint([]string{keep})
	})
	env2.Login("prof").Must(200, "GET", fmt.Sprintf("/api/v1/attachments/%d", attID(a)), nil)
}

// TestAttachmentQuotaUnderConcurrency: parallel uploads by one user cannot
// together exceed the quota (the check is inside the insert's transaction).
func TestAttachmentQuotaUnderConcurrency(t *testing.T) {
	c := newAttachClass(t)
	c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"upload_quota_mib": 3, "max_upload_mib": 1})
	const n = 8
	statuses := make(chan int, n)
	for i := range n {
		go func() {
			data := bytes.Repeat([]byte{byte('a' + i)}, 1<<20)
			statuses <- attUpload(c.stu, c.conv, fmt.Sprintf("f%d.txt", i), "text/plain", data).Status
		}()
	}
	count := map[int]int{}
	for range n {
		count[<-statuses]++
	}
	if count[201] != 3 || count[413] != n-3 {
		t.Fatalf("statuses %v: want 3 × 201 and %d × 413", count, n-3)
	}
	files := 0
	for _, f := range attFiles(t, c.env) {
		if !strings.HasPrefix(f, "tmp") {
			files++
		}
	}
	if files != 3 {
		t.Fatalf("%d files on disk, want 3: %v", files, attFiles(t, c.env))
	}
}
