package files_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"teamchat/server/files"
	"teamchat/server/files/filestest"
)

func newStore(t *testing.T) (*files.Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := files.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func TestPutStoresByHashOnce(t *testing.T) {
	s, dir := newStore(t)
	data := []byte("hello, class\n")
	h, n, err := s.Put(bytes.NewReader(data), 100)
	if err != nil {
		t.Fatal(err)
	}
	s.Release(h)
	if h != sum(data) || n != int64(len(data)) {
		t.Fatalf("hash %s size %d, want %s %d", h, n, sum(data), len(data))
	}
	want := filepath.Join("attachments", h[:2], h)
	if got := filestest.Tree(t, dir); fmt.Sprint(got) != fmt.Sprint([]string{want}) {
		t.Fatalf("files %v, want only %s", got, want)
	}
	// The same content again: still one blob, no temporary file left.
	h2, _, err := s.Put(bytes.NewReader(data), 100)
	if err != nil || h2 != h {
		t.Fatalf("second put: %s %v", h2, err)
	}
	s.Release(h2)
	if got := filestest.Tree(t, dir); len(got) != 1 {
		t.Fatalf("files after a duplicate put: %v", got)
	}
	f, err := s.Open(h)
	if err != nil {
		t.Fatal(err)
	}
	back, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(back, data) {
		t.Fatalf("read back %q", back)
	}
	if _, err := s.Open("../../etc/passwd"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open of a path that is not a hash: %v", err)
	}
}

func TestPutLimit(t *testing.T) {
	s, dir := newStore(t)
	if _, _, err := s.Put(bytes.NewReader(make([]byte, 101)), 100); !errors.Is(err, files.ErrTooLarge) {
		t.Fatalf("101 bytes with max 100: %v", err)
	}
	if got := filestest.Tree(t, dir); len(got) != 0 {
		t.Fatalf("a refused put left files: %v", got)
	}
	h, n, err := s.Put(bytes.NewReader(make([]byte, 100)), 100)
	if err != nil || n != 100 {
		t.Fatalf("exactly max: %d %v", n, err)
	}
	s.Release(h)
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset")
	}
	k := min(len(p), f.n)
	f.n -= k
	return k, nil
}

func TestPutReaderErrorLeavesNothing(t *testing.T) {
	s, dir := newStore(t)
	_, _, err := s.Put(&failingReader{n: 5000}, 1<<20)
	if !errors.Is(err, files.ErrRead) {
		t.Fatalf("err %v, want ErrRead", err)
	}
	if got := filestest.Tree(t, dir); len(got) != 0 {
		t.Fatalf("a failed put left files: %v", got)
	}
}

func TestSweep(t *testing.T) {
	s, dir := newStore(t)
	put := func(data string) string {
		h, _, err := s.Put(strings.NewReader(data), 1000)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	kept, gone, pending := put("kept"), put("gone"), put("pending")
	s.Release(kept)
	s.Release(gone)
	// pending is not released: its row may be being committed.
	for _, h := range []string{kept, gone} {
		if err := os.WriteFile(s.ThumbnailPath(h), []byte("jpeg"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	orphanThumb := strings.Repeat("ab", 32)
	os.MkdirAll(filepath.Join(dir, "attachments", "ab"), 0o700)
	os.WriteFile(filepath.Join(dir, "attachments", "ab", orphanThumb+".thumb.jpg"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(dir, "attachments", "tmp", "put-123"), []byte("half an upload"), 0o600)

	// An upload in progress: its temporary file must survive the sweep.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	var inflight string
	go func() {
		h, _, err := s.Put(pr, 1000)
		inflight = h
		done <- err
	}()
	pw.Write([]byte("still coming"))
	waitFor(t, func() bool { return len(filestest.Tree(t, filepath.Join(dir, "attachments", "tmp"))) == 2 })

	asked := map[string]bool{}
	st, err := s.Sweep(func(h string) bool { asked[h] = true; return h == kept })
	if err != nil {
		t.Fatal(err)
	}
	if asked[pending] {
		t.Error("sweep asked about a pending blob")
	}
	if st.Blobs != 1 || st.Temp != 1 || st.Thumbnails != 1 {
		t.Errorf("stats %+v, want 1 blob, 1 temporary file, 1 thumbnail", st)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.Release(inflight)
	got := filestest.Tree(t, dir)
	want := []string{
		filepath.Join("attachments", kept[:2], kept), filepath.Join("attachments", kept[:2], kept+".thumb.jpg"),
		filepath.Join("attachments", pending[:2], pending), filepath.Join("attachments", inflight[:2], inflight),
	}
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after sweep:\n got %v\nwant %v", got, want)
	}
	// Released and unused now: the next sweep takes it.
	s.Release(pending)
	if st, _ := s.Sweep(func(h string) bool { return h == kept }); st.Blobs != 2 {
		t.Fatalf("second sweep removed %d blobs, want 2", st.Blobs)
	}
}

// TestSweepNeverRemovesACommittedBlob races uploads (Put, record the row,
// Release) against sweeps that look the rows up: every recorded blob must
// still be there at the end.
func TestSweepNeverRemovesACommittedBlob(t *testing.T) {
	s, _ := newStore(t)
	var mu sync.Mutex
	rows := map[string]bool{}
	used := func(h string) bool { mu.Lock(); defer mu.Unlock(); return rows[h] }
	stop := make(chan struct{})
	var sweeps sync.WaitGroup
	sweeps.Add(1)
	go func() {
		defer sweeps.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Sweep(used); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				data := fmt.Sprintf("file %d-%d", g, i)
				h, _, err := s.Put(strings.NewReader(data), 100)
				if err != nil {
					t.Error(err)
					return
				}
				time.Sleep(100 * time.Microsecond) // the row's transaction: widens the window a sweep could hit
				mu.Lock()
				rows[h] = true
				mu.Unlock()
				s.Release(h)
			}
		}()
	}
	wg.Wait()
	close(stop)
	sweeps.Wait()
	for h := range rows {
		if _, err := os.Stat(s.Path(h)); err != nil {
			t.Fatalf("the blob of a recorded row is gone: %v", err)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(2 * time.Millisecond) // polling, not synchronization
	}
}

func gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	return img
}

func encode(t *testing.T, format string, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, img)
	case "jpeg":
		err = jpeg.Encode(&b, img, nil)
	case "gif":
		err = gif.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestInspectImages(t *testing.T) {
	s, _ := newStore(t)
	webpData, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		data  []byte
		ct    string
		w, h  int
		thumb image.Point // expected thumbnail size; 0: none
	}{
		{"png", encode(t, "png", gradient(640, 480)), files.TypePNG, 640, 480, image.Pt(320, 240)},
		{"jpeg", encode(t, "jpeg", gradient(200, 900)), files.TypeJPEG, 200, 900, image.Pt(71, 320)},
		{"gif", encode(t, "gif", gradient(100, 50)), files.TypeGIF, 100, 50, image.Pt(100, 50)},
		{"webp", webpData, files.TypeWebP, 150, 100, image.Pt(150, 100)},
		{"large within limits", encode(t, "png", image.NewGray(image.Rect(0, 0, 5000, 3000))), files.TypePNG, 5000, 3000, image.Pt(320, 192)},
		{"bomb 30000x30000", filestest.BombPNG(30000, 30000), files.TypeOctet, 0, 0, image.Point{}},
		{"bomb 10000x6000 (60 MP)", filestest.BombPNG(10000, 6000), files.TypeOctet, 0, 0, image.Point{}},
		{"png header, garbage after", append(encode(t, "png", gradient(10, 10))[:40], "garbage"...), files.TypeOctet, 0, 0, image.Point{}},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>`), files.TypeText, 0, 0, image.Point{}},
		{"svg with xml declaration", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), files.TypeOctet, 0, 0, image.Point{}},
		{"html", []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"), files.TypeOctet, 0, 0, image.Point{}},
		{"pdf", []byte("%PDF-1.4\n%…"), files.TypePDF, 0, 0, image.Point{}},
		{"text", []byte("notes for Monday\n"), files.TypeText, 0, 0, image.Point{}},
		{"utf-16 text", []byte("\xff\xfeh\x00i\x00"), files.TypeOctet, 0, 0, image.Point{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, _, err := s.Put(bytes.NewReader(c.data), 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Release(h)
			start := time.Now()
			info, err := s.Inspect(context.Background(), 1, h)
			if err != nil {
				t.Fatal(err)
			}
			if info.ContentType != c.ct || info.Width != c.w || info.Height != c.h || info.Thumbnail != (c.thumb != image.Point{}) {
				t.Fatalf("info %+v, want %s %dx%d thumbnail %v", info, c.ct, c.w, c.h, c.thumb)
			}
			if d := time.Since(start); c.ct == files.TypeOctet && d > 2*time.Second {
				t.Errorf("refusing took %v", d)
			}
			f, err := s.OpenThumbnail(h)
			if c.thumb == (image.Point{}) {
				if err == nil {
					f.Close()
					t.Fatal("a thumbnail exists")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := jpeg.Decode(f)
			if err != nil {
				t.Fatalf("thumbnail is not a JPEG: %v", err)
			}
			if got := img.Bounds().Size(); got != c.thumb {
				t.Fatalf("thumbnail %v, want %v", got, c.thumb)
			}
			// Inspecting the same content again reuses the thumbnail.
			again, err := s.Inspect(context.Background(), 1, h)
			if err != nil || again != info {
				t.Fatalf("second inspect %+v %v", again, err)
			}
		})
	}
}

func TestSniffIgnoresNames(t *testing.T) {
	// Type comes from the bytes: an HTML document is never an image, a PNG is one.
	if got := files.Sniff([]byte("<html><body>hi")); got != files.TypeOctet {
		t.Errorf("html sniffed as %s", got)
	}
	if got := files.Sniff(encode(t, "png", gradient(2, 2))); got != files.TypePNG {
		t.Errorf("png sniffed as %s", got)
	}
	if got := files.Sniff([]byte("RIFF\x10\x00\x00\x00WEBPVP8 ")); got != files.TypeWebP {
		t.Errorf("webp sniffed as %s", got)
	}
	if got := files.Sniff([]byte("RIFF\x10\x00\x00\x00WAVEfmt ")); got != files.TypeOctet {
		t.Errorf("wav sniffed as %s", got)
	}
}
