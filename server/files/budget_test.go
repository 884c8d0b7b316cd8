package files_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"io"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"teamchat/server/files"
	"teamchat/server/files/filestest"
)

// allocated is how many bytes f allocated (the process's cumulative count;
// nothing else runs in these tests).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func putBlob(t *testing.T, s *files.Store, data []byte) string {
	t.Helper()
	h, _, err := s.Put(bytes.NewReader(data), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Release(h) })
	return h
}

// Images whose decoding would take more than MaxDecodeBytes are refused from
// their header: no thumbnail, and no large allocation at all. Pixel count
// alone let a 16-bit 7071 × 7071 PNG (50 MP, 400 MB decoded) through.
func TestInspectBoundsDecodingByBytes(t *testing.T) {
	s, _ := newStore(t)
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"16-bit RGBA 7071x7071 (400 MB)", filestest.BombPNG16(7071, 7071)},
		{"16-bit RGBA 4000x4000 (128 MB)", filestest.BombPNG16(4000, 4000)},
		{"8-bit RGBA 7071x7071 (200 MB)", filestest.BombPNG(7071, 7071)},
		{"8-bit RGBA 5000x5000 (100 MB)", filestest.BombPNG(5000, 5000)},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := putBlob(t, s, c.data)
			var info files.Info
			var err error
			n := allocated(func() { info, err = s.Inspect(context.Background(), 1, h) })
			if err != nil {
				t.Fatal(err)
			}
			if info != (files.Info{ContentType: files.TypeOctet}) {
				t.Errorf("info %+v, want a plain file", info)
			}
			if f, err := s.OpenThumbnail(h); err == nil {
				f.Close()
				t.Error("a thumbnail was made")
			}
			if n > 1<<20 {
				t.Errorf("refusing allocated %d bytes", n)
			}
			if st := s.DecodeStats(); st != (files.DecodeStats{}) {
				t.Errorf("budget after refusal: %+v", st)
			}
		})
	}
	// A 16-bit image that fits is still decoded and thumbnailed.
	img := image.NewNRGBA64(image.Rect(0, 0, 400, 300))
	for y := range 300 {
		for x := range 400 {
			img.SetNRGBA64(x, y, color.NRGBA64{uint16(x * 70), uint16(y * 100), 40000, 65535})
		}
	}
	h := putBlob(t, s, encode(t, "png", img))
	info, err := s.Inspect(context.Background(), 1, h)
	if err != nil || !info.Thumbnail || info.Width != 400 || info.ContentType != files.TypePNG {
		t.Fatalf("16-bit 400x300: %+v %v", info, err)
	}
}

// decodeCost must cover what decoding and thumbnailing really allocate, or
// the budget would not bound memory.
func TestDecodeCostCoversTheDecoders(t *testing.T) {
	webpData, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	gray := image.NewGray(image.Rect(0, 0, 700, 500))
	gray16 := image.NewGray16(image.Rect(0, 0, 600, 400))
	rgba64 := image.NewRGBA64(image.Rect(0, 0, 500, 400))
	pal := image.NewPaletted(image.Rect(0, 0, 600, 500), []color.Color{color.Black, color.White, color.RGBA{200, 0, 0, 255}})
	for y := range 400 {
		for x := range 500 {
			gray.SetGray(x, y, color.Gray{uint8(x ^ y)})
			gray16.SetGray16(x, y, color.Gray16{uint16(x * y)})
			rgba64.SetRGBA64(x, y, color.RGBA64{uint16(x * 60), uint16(y * 90), 3000, 65535})
			pal.SetColorIndex(x, y, uint8((x/7+y/5)%3))
		}
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"png rgba 800x600", encode(t, "png", gradient(800, 600))},
		{"png rgba 2000x60", encode(t, "png", gradient(2000, 60))},
		{"png rgba 60x2000", encode(t, "png", gradient(60, 2000))},
		{"png gray", encode(t, "png", gray)},
		{"png gray16", encode(t, "png", gray16)},
		{"png rgba64", encode(t, "png", rgba64)},
		{"png paletted", encode(t, "png", pal)},
		{"jpeg 4:2:0 900x700", encode(t, "jpeg", gradient(900, 700))},
		{"jpeg gray", encode(t, "jpeg", gray)},
		{"gif", encode(t, "gif", pal)},
		{"webp lossy", webpData},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _ := newStore(t)
			h := putBlob(t, s, c.data)
			f, err := s.Open(h)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			head := make([]byte, files.SniffLen)
			n, _ := io.ReadFull(f, head)
			ct := files.Sniff(head[:n])
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			cfg, _, err := image.DecodeConfig(f)
			if err != nil {
				t.Fatal(err)
			}
			cost, err := files.DecodeCost(ct, head[:n], f, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var info files.Info
			used := allocated(func() { info, err = s.Inspect(context.Background(), 1, h) })
			if err != nil || !info.Thumbnail {
				t.Fatalf("inspect: %+v %v", info, err)
			}
			t.Logf("%s: estimated %d KiB, allocated %d KiB", c.name, cost>>10, used>>10)
			if int64(used) > cost {
				t.Errorf("allocated %d bytes, more than the estimate %d", used, cost)
			}
		})
	}
}

// One uploader's decodes never hold up another's: while owner 1's large
// image is being decoded and its second one waits for it, owner 2's small
// image is decoded and done. Ordered by instrumentation, not by timing.
func TestSmallImageIsNotQueuedBehindAnothersLargeOnes(t *testing.T) {
	s, _ := newStore(t)
	var mu sync.Mutex
	var started []int64 // owners, in the order their decodes began
	hold := make(chan struct{})
	files.SetBeforeDecode(s, func(owner int64) {
		mu.Lock()
		started = append(started, owner)
		first := len(started) == 1
		mu.Unlock()
		if first {
			<-hold // owner 1's first large image stays in flight
		}
	})
	// Large: 36 MB once decoded each (their data ends early, so decoding
	// fails after allocating, which is what matters here).
	large1 := putBlob(t, s, filestest.BombPNG(3000, 3000))
	large2 := putBlob(t, s, filestest.BombPNG(3000, 2999))
	small := putBlob(t, s, encode(t, "png", gradient(64, 64)))

	var wg sync.WaitGroup
	results := make([]files.Info, 2)
	for i, h := range []string{large1, large2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, err := s.Inspect(context.Background(), 1, h)
			if err != nil {
				t.Error(err)
			}
			results[i] = info
		}()
		if i == 0 {
			waitFor(t, func() bool { return s.DecodeStats().Running == 1 })
		}
	}
	waitFor(t, func() bool { return s.DecodeStats().Waiting == 1 })

	// Owner 2's small image, while owner 1 holds a decode and queues another.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	info, err := s.Inspect(ctx, 2, small)
	if err != nil || !info.Thumbnail {
		t.Fatalf("the small image waited for another uploader's: %+v %v", info, err)
	}
	mu.Lock()
	order := append([]int64(nil), started...)
	mu.Unlock()
	if len(order) != 2 || order[0] != 1 || order[1] != 2 {
		t.Fatalf("decodes began in the order %v, want owner 1's first, then owner 2's", order)
	}
	if st := s.DecodeStats(); st.Running != 1 || st.Waiting != 1 {
		t.Fatalf("owner 1's decodes: %+v, want one running and one waiting", st)
	}
	close(hold)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(started) != 3 || started[2] != 1 {
		t.Fatalf("decodes began in the order %v, want owner 1's second last", started)
	}
	if st := s.DecodeStats(); st != (files.DecodeStats{}) {
		t.Fatalf("budget after all: %+v", st)
	}
}
