package main

// Crash test of attachments: kill -9 during concurrent uploads (and sends that
// use them), restart, and check that every acknowledged upload is intact,
// that no file lacks a row and no row lacks a file once the startup sweep has
// run, and that the database passes its integrity check. Helpers (startServer,
// addUser, token, integrityCheck) are main_test.go's.

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"teamchat/server/files/filestest"
)

// attachHistory is what the clients were told: uploads that got 201 and
// messages (with their attachments) that got 201.
type attachHistory struct {
	mu      sync.Mutex
	uploads map[int64]attachUpload // attachment id → what was uploaded
	sent    map[int64][]int64      // message id → attachment ids
}

type attachUpload struct {
	user, sum string
	image     bool
}

func attachSum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// attachContent is a random file: raw bytes of up to 512 KiB, a PNG, or one of a
// few shared contents (so the same blob is uploaded by several clients).
func attachContent(r *rand.Rand, shared [][]byte) ([]byte, string, bool) {
	switch r.IntN(6) {
	case 0:
		return shared[r.IntN(len(shared))], "shared.bin", false
	case 1, 2:
		w, h := 20+r.IntN(300), 20+r.IntN(300)
		img := image.NewNRGBA(image.Rect(0, 0, w, h))
		for i := range img.Pix {
			img.Pix[i] = uint8(r.Uint32())
		}
		img.Set(0, 0, color.White)
		var b bytes.Buffer
		png.Encode(&b, img)
		return b.Bytes(), "pic.png", true
	}
	b := make([]byte, 1+r.IntN(512<<10))
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], r.Uint64())
	rand.NewChaCha8(seed).Read(b)
	return b, "data.bin", false
}

type attachFile struct {
	data    []byte
	name    string
	isImage bool
}

// attachFiles makes n random files ahead of the uploads (so the clients are quick).
func attachFiles(seed uint64, n int, shared [][]byte) []attachFile {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]attachFile, n)
	for i := range out {
		out[i].data, out[i].name, out[i].isImage = attachContent(r, shared)
	}
	return out
}

// attachUploads uploads the files until the server dies, sending every other
// upload in a message to conversation 1, and records what got 201.
func attachUploads(base, tok, user string, todo []attachFile, h *attachHistory, count *int64, countMu *sync.Mutex) {
	client := &http.Client{Timeout: 60 * time.Second}
	for i, f := range todo {
		data, name, isImage := f.data, f.name, f.isImage
		q := url.Values{"conversation_id": {"1"}, "name": {fmt.Sprintf("%s-%d-%s", user, i, name)}}
		req, _ := http.NewRequest("POST", base+"/api/v1/attachments?"+q.Encode(), bytes.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/octet-stream")
		res, err := client.Do(req)
		if err != nil {
			return // the server is gone
		}
		var att struct {
			ID int64 `json:"id"`
		}
		status := res.StatusCode
		err = json.NewDecoder(res.Body).Decode(&att)
		res.Body.Close()
		if status != http.StatusCreated || err != nil {
			return
		}
		h.mu.Lock()
		h.uploads[att.ID] = attachUpload{user: user, sum: attachSum(data), image: isImage}
		h.mu.Unlock()
		countMu.Lock()
		*count++
		countMu.Unlock()
		if i%2 == 1 {
			continue
		}
		body, _ := json.Marshal(map[string]any{"body": "", "attachment_ids": []int64{att.ID}})
		req, _ = http.NewRequest("POST", base+"/api/v1/conversations/1/messages", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		res, err = client.Do(req)
		if err != nil {
			return
		}
		var m struct {
			ID int64 `json:"id"`
		}
		status = res.StatusCode
		err = json.NewDecoder(res.Body).Decode(&m)
		res.Body.Close()
		if status != http.StatusCreated || err != nil {
			return
		}
		h.mu.Lock()
		h.sent[m.ID] = []int64{att.ID}
		h.mu.Unlock()
	}
}

// attachSlowUploads sends big files slowly, one after the other, until the
// server dies, so that an upload is being written when it is killed; sent is
// how much of the current one went out. Completed uploads are recorded.
func attachSlowUploads(base, tok, user string, h *attachHistory, sent *atomic.Int64) {
	client := &http.Client{Timeout: 60 * time.Second}
	for i := 0; ; i++ {
		data := bytes.Repeat([]byte(fmt.Sprintf("slow upload %d of %s\n", i, user)), (2<<20)/20)
		pr, pw := io.Pipe()
		sent.Store(0)
		go func() {
			for off := 0; off < len(data); off += 64 << 10 {
				if _, err := pw.Write(data[off:min(off+64<<10, len(data))]); err != nil {
					return
				}
				sent.Add(64 << 10)
				time.Sleep(5 * time.Millisecond) // a slow network
			}
			pw.Close()
		}()
		req, _ := http.NewRequest("POST", base+"/api/v1/attachments?conversation_id=1&name=slow.txt", pr)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := client.Do(req)
		if err != nil {
			pr.CloseWithError(err)
			return
		}
		var att struct {
			ID int64 `json:"id"`
		}
		status := res.StatusCode
		err = json.NewDecoder(res.Body).Decode(&att)
		res.Body.Close()
		if status != http.StatusCreated || err != nil {
			return
		}
		h.mu.Lock()
		h.uploads[att.ID] = attachUpload{user: user, sum: attachSum(data)}
		h.mu.Unlock()
	}
}

// attachDiskAndRows compares the files under <data>/attachments with the
// rows: it returns files without a row, rows without a file, and temporary files.
func attachDiskAndRows(t *testing.T, data string) (orphans, missing, temps []string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "teamchat.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT hash, thumbnail FROM attachments`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{} // relative paths the rows need
	for rows.Next() {
		var h string
		var thumb bool
		if err := rows.Scan(&h, &thumb); err != nil {
			t.Fatal(err)
		}
		want[filepath.Join(h[:2], h)] = true
		if thumb {
			want[filepath.Join(h[:2], h+".thumb.jpg")] = true
		}
	}
	rows.Close()
	root := filepath.Join(data, "attachments")
	have := map[string]bool{}
	for _, rel := range filestest.Tree(t, root) {
		if strings.HasPrefix(rel, "tmp/") {
			temps = append(temps, filepath.FromSlash(rel))
		} else {
			have[filepath.FromSlash(rel)] = true
		}
	}
	for p := range have {
		if !want[p] {
			orphans = append(orphans, p)
		}
	}
	for p := range want {
		if !have[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(orphans)
	sort.Strings(missing)
	return orphans, missing, temps
}

// attachGet downloads an attachment (or its thumbnail) with a token.
func attachGet(t *testing.T, base, tok string, id int64, suffix string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/attachments/%d%s", base, id, suffix), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// attachMessages reads conversation 1's messages: id → attachment ids.
func attachMessages(t *testing.T, base, tok string) map[int64][]int64 {
	t.Helper()
	out := map[int64][]int64{}
	after := int64(0)
	for {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/conversations/1/messages?after_seq=%d&limit=200", base, after), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Messages []struct {
				ID          int64 `json:"id"`
				Seq         int64 `json:"seq"`
				Attachments []struct {
					ID int64 `json:"id"`
				} `json:"attachments"`
			} `json:"messages"`
			HasMore bool `json:"has_more"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Messages {
			ids := []int64{}
			for _, a := range m.Attachments {
				ids = append(ids, a.ID)
			}
			out[m.ID] = ids
		}
		if !page.HasMore || len(page.Messages) == 0 {
			return out
		}
		after = page.Messages[len(page.Messages)-1].Seq
	}
}

func TestAttachCrashDuringUploads(t *testing.T) {
	for round := range 2 {
		t.Run(fmt.Sprintf("round-%d", round), func(t *testing.T) {
			data := t.TempDir()
			addUser(t, data, "prof", "admin")
			users := []string{"stu0", "stu1", "stu2", "stu3", "stu4"}
			for _, u := range users {
				addUser(t, data, u, "user")
			}
			shared := [][]byte{[]byte("the same syllabus for everyone\n"), bytes.Repeat([]byte("lecture notes "), 5000)}
			p := startServer(t, data, "--upload-rate", "0") // uploads as fast as they go
			h := &attachHistory{uploads: map[int64]attachUpload{}, sent: map[int64][]int64{}}
			var count int64
			var countMu sync.Mutex
			var wg sync.WaitGroup
			todo := map[string][]attachFile{}
			for i, u := range users {
				todo[u] = attachFiles(uint64(round*100+i), 40, shared)
			}
			for _, u := range users {
				tok := token(t, p.url, u)
				wg.Add(1)
				go func() {
					defer wg.Done()
					attachUploads(p.url, tok, u, todo[u], h, &count, &countMu)
				}()
			}
			var slowSent atomic.Int64
			slowTok := token(t, p.url, "prof")
			wg.Add(1)
			go func() {
				defer wg.Done()
				attachSlowUploads(p.url, slowTok, "prof", h, &slowSent)
			}()
			// Kill at a random point, while the slow upload is half-way.
			killAt := int64(5 + rand.IntN(100))
			deadline := time.Now().Add(60 * time.Second)
			for {
				countMu.Lock()
				n := count
				countMu.Unlock()
				if (n >= killAt && slowSent.Load() >= 256<<10) || time.Now().After(deadline) {
					break
				}
				time.Sleep(time.Millisecond) // polling the history, not synchronizing
			}
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			p.wait()
			wg.Wait()
			integrityCheck(t, data)
			crashOrphans, missing, crashTemps := attachDiskAndRows(t, data)
			if len(missing) > 0 {
				t.Fatalf("rows without their file after the crash: %v", missing)
			}
			if len(crashTemps) == 0 {
				t.Fatalf("the crash left no temporary file: the slow upload was not being written")
			}

			// Restart; upload more right away, while the startup sweep runs.
			p2 := startServer(t, data, "--upload-rate", "0")
			toks := map[string]string{}
			for _, u := range append([]string{"prof"}, users...) {
				toks[u] = token(t, p2.url, u)
			}
			after := &attachHistory{uploads: map[int64]attachUpload{}, sent: map[int64][]int64{}}
			var n2 int64
			for i, u := range users {
				files := attachFiles(uint64(round*100+50+i), 4, shared)
				wg.Add(1)
				go func() {
					defer wg.Done()
					attachUploads(p2.url, toks[u], u, files, after, &n2, &countMu)
				}()
			}
			wg.Wait()
			if n2 != int64(4*len(users)) {
				t.Fatalf("%d of %d uploads after the restart succeeded\n%s", n2, 4*len(users), p2.logs)
			}
			// Wait for the startup sweep: no temporary file, no file without a row.
			sweepDeadline := time.Now().Add(30 * time.Second)
			for {
				orphans, missing, temps := attachDiskAndRows(t, data)
				if len(missing) > 0 {
					t.Fatalf("rows without their file: %v", missing)
				}
				if len(orphans) == 0 && len(temps) == 0 {
					break
				}
				if time.Now().After(sweepDeadline) {
					t.Fatalf("after the startup sweep: files without a row %v, temporary files %v", orphans, temps)
				}
				time.Sleep(20 * time.Millisecond) // polling the data dir, not synchronizing
			}
			// Every acknowledged upload, before and after the crash, is intact.
			for _, hist := range []*attachHistory{h, after} {
				for id, up := range hist.uploads {
					status, body := attachGet(t, p2.url, toks[up.user], id, "")
					if status != 200 || attachSum(body) != up.sum {
						t.Fatalf("upload %d by %s: %d, sha256 %s, want %s", id, up.user, status, attachSum(body), up.sum)
					}
					if up.image {
						if status, _ := attachGet(t, p2.url, toks[up.user], id, "/thumbnail"); status != 200 {
							t.Fatalf("thumbnail of upload %d: %d", id, status)
						}
					}
				}
			}
			// Every acknowledged message still has its attachments.
			stored := attachMessages(t, p2.url, token(t, p2.url, "prof"))
			for _, hist := range []*attachHistory{h, after} {
				for mid, ids := range hist.sent {
					if fmt.Sprint(stored[mid]) != fmt.Sprint(ids) {
						t.Fatalf("message %d has attachments %v, want %v", mid, stored[mid], ids)
					}
				}
			}
			if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := p2.wait(); err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, p2.logs)
			}
			integrityCheck(t, data)
			orphans, missing, temps := attachDiskAndRows(t, data)
			if len(orphans)+len(missing)+len(temps) > 0 {
				t.Fatalf("at the end: files without a row %v, rows without a file %v, temporary files %v", orphans, missing, temps)
			}
			t.Logf("killed after %d acknowledged uploads (left %d files without a row, %d temporary files); %d uploads and %d messages checked",
				killAt, len(crashOrphans), len(crashTemps), len(h.uploads)+len(after.uploads), len(h.sent)+len(after.sent))
		})
	}
}
