package files

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// Content types a blob is served with, judged from its bytes.
const (
	TypePNG   = "image/png"
	TypeJPEG  = "image/jpeg"
	TypeGIF   = "image/gif"
	TypeWebP  = "image/webp"
	TypePDF   = "application/pdf"
	TypeText  = "text/plain; charset=utf-8"
	TypeOctet = "application/octet-stream"
)

// Limits of the images the server decodes; larger ones are kept as plain files.
const (
	MaxPixels = 50_000_000
	MaxSide   = 20_000
	ThumbSide = 320 // thumbnails fit in ThumbSide × ThumbSide
	thumbQ    = 80
)

// SniffLen is how many leading bytes Sniff looks at.
const SniffLen = 512

// Sniff judges content from its first bytes (never from a name or a declared
// type): one of PNG, JPEG, GIF, WebP, PDF, UTF-8 text, or octet-stream for
// anything else, HTML, XML and SVG included.
func Sniff(head []byte) string {
	if len(head) > SniffLen {
		head = head[:SniffLen]
	}
	if len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP" {
		return TypeWebP
	}
	switch ct := http.DetectContentType(head); ct {
	case TypePNG, TypeJPEG, TypeGIF, TypePDF, TypeText:
		return ct
	}
	return TypeOctet
}

// Info is what the server learned about a stored blob.
type Info struct {
	ContentType   string // see Sniff; an image the server could not decode is TypeOctet
	Width, Height int    // 0 unless an image the server decoded
	Thumbnail     bool   // a thumbnail exists next to the blob
}

// Inspect judges a stored blob's type from its bytes and, for a PNG, JPEG,
// GIF or WebP image within MaxPixels and MaxSide whose decoding takes at most
// MaxDecodeBytes (judged from its header, before decoding), reads its size
// and writes its thumbnail (once per content). An image that is too large,
// or that does not decode, is reported as TypeOctet with no size and no
// thumbnail. The decode waits for its share of DecodeBudget, taken in the
// name of owner (the uploader: one decode at a time each), or until ctx
// ends. Call it while the blob is pending (between Put and Release).
func (s *Store) Inspect(ctx context.Context, owner int64, hash string) (Info, error) {
	f, err := s.Open(hash)
	if err != nil {
		return Info{}, fmt.Errorf("files: inspect: %w", err)
	}
	defer f.Close()
	head := make([]byte, SniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return Info{}, fmt.Errorf("files: inspect: %w", err)
	}
	head = head[:n]
	info := Info{ContentType: Sniff(head)}
	var decodeConfig func(io.Reader) (image.Config, error)
	var decode func(io.Reader) (image.Image, error)
	switch info.ContentType {
	case TypePNG:
		decodeConfig, decode = png.DecodeConfig, png.Decode
	case TypeJPEG:
		decodeConfig, decode = jpeg.DecodeConfig, jpeg.Decode
	case TypeGIF:
		decodeConfig, decode = gif.DecodeConfig, gif.Decode
	case TypeWebP:
		decodeConfig, decode = webp.DecodeConfig, webp.Decode
	default:
		return info, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Info{}, fmt.Errorf("files: inspect: %w", err)
	}
	cfg, err := decodeConfig(f)
	if err != nil || !Decodable(cfg.Width, cfg.Height) {
		return Info{ContentType: TypeOctet}, nil
	}
	cost, err := decodeCost(info.ContentType, head, f, cfg)
	if err != nil || cost > MaxDecodeBytes {
		return Info{ContentType: TypeOctet}, nil
	}
	if _, err := os.Stat(s.ThumbnailPath(hash)); err == nil {
		return Info{ContentType: info.ContentType, Width: cfg.Width, Height: cfg.Height, Thumbnail: true}, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Info{}, fmt.Errorf("files: inspect: %w", err)
	}
	if err := s.budget.acquire(ctx, owner, cost); err != nil {
		return Info{}, fmt.Errorf("files: inspect: waiting to decode: %w", err)
	}
	var buf bytes.Buffer
	ok, err := func() (bool, error) {
		defer s.budget.release(owner, cost)
		if s.beforeDecode != nil {
			s.beforeDecode(owner)
		}
		img, err := decode(f)
		if err != nil {
			return false, nil
		}
		b := img.Bounds()
		if b.Dx() != cfg.Width || b.Dy() != cfg.Height || b.Empty() {
			return false, nil
		}
		if err := jpeg.Encode(&buf, Thumbnail(img), &jpeg.Options{Quality: thumbQ}); err != nil {
			return false, fmt.Errorf("files: thumbnail: %w", err)
		}
		return true, nil
	}()
	if err != nil || !ok {
		return Info{ContentType: TypeOctet}, err
	}
	if err := s.writeThumbnail(hash, buf.Bytes()); err != nil {
		return Info{}, err
	}
	return Info{ContentType: info.ContentType, Width: cfg.Width, Height: cfg.Height, Thumbnail: true}, nil
}

// decodeOverhead covers what a decode allocates besides its pixels: the
// decompressor's window and buffers, the JPEG tables, the thumbnail's
// encoder. Measured well under it (TestDecodeCostCoversTheDecoders).
const decodeOverhead = 1 << 20

// decodeCost estimates, from the header alone, the bytes that decoding the
// image and making its thumbnail allocate: width × height × the bytes a pixel
// of its color model takes, with what each decoder adds on top (interlaced
// PNG passes, progressive JPEG coefficients, WebP's intermediate planes), and
// the thumbnail's scaling buffers. r is the file; cfg its DecodeConfig.
func decodeCost(contentType string, head []byte, r io.ReadSeeker, cfg image.Config) (int64, error) {
	w, h := int64(cfg.Width), int64(cfg.Height)
	var pixels int64
	switch contentType {
	case TypeJPEG:
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		fr, err := readJPEGFrame(r)
		if err != nil {
			return 0, err
		}
		pixels = fr.cost(cfg)
	case TypePNG:
		pixels = w * h * bytesPerPixel(cfg.ColorModel)
		// IHDR's interlace byte: Adam7 decodes seven passes (together the
		// size of the image) besides the image itself.
		if len(head) > 28 && head[28] == 1 {
			pixels *= 2
		}
	case TypeWebP:
		// The lossless decoder keeps the image and two planes as large
		// (transforms and color indexing); lossy with alpha decodes the
		// alpha plane losslessly; plain lossy is YCbCr 4:2:0.
		switch cfg.ColorModel {
		case color.YCbCrModel:
			pixels = w * h * 2
		default:
			pixels = w * h * 12
		}
	default: // GIF: one byte per pixel of the first frame, which fits in the screen
		pixels = w * h * bytesPerPixel(cfg.ColorModel)
	}
	return pixels + thumbnailCost(cfg.Width, cfg.Height) + decodeOverhead, nil
}

// bytesPerPixel is the size of a pixel of the image type that the standard
// decoders return for a color model.
func bytesPerPixel(m color.Model) int64 {
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3 // 4:4:4 at most
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	}
	return 8 // RGBA64, NRGBA64, or anything unknown
}

// jpegFrame is what a JPEG's start-of-frame header says about its decoding.
type jpegFrame struct {
	progressive bool
	hv          [][2]int64 // each component's horizontal and vertical sampling factors
}

// cost is what image/jpeg allocates for the frame: every component's 8 × 8
// blocks, padded to whole MCUs, as pixels (1 byte each), plus 64 int32
// coefficients per block for a progressive image; an RGB or CMYK image is
// also converted to a 4-byte-per-pixel one.
func (fr jpegFrame) cost(cfg image.Config) int64 {
	hmax, vmax := int64(1), int64(1)
	for _, c := range fr.hv {
		hmax, vmax = max(hmax, c[0]), max(vmax, c[1])
	}
	if len(fr.hv) == 1 {
		hmax, vmax = 1, 1 // the decoder ignores a lone component's factors
	}
	w, h := int64(cfg.Width), int64(cfg.Height)
	mxx, myy := (w+8*hmax-1)/(8*hmax), (h+8*vmax-1)/(8*vmax)
	var blocks int64
	for _, c := range fr.hv {
		if len(fr.hv) == 1 {
			c = [2]int64{1, 1}
		}
		blocks += mxx * c[0] * myy * c[1]
	}
	cost := blocks * 64
	if fr.progressive {
		cost += blocks * 64 * 4
	}
	if len(fr.hv) == 4 || cfg.ColorModel != color.YCbCrModel && cfg.ColorModel != color.GrayModel {
		cost += 4 * w * h
	}
	return cost
}

// readJPEGFrame walks a JPEG's marker segments to its start of frame.
func readJPEGFrame(r io.Reader) (jpegFrame, error) {
	br := bufio.NewReaderSize(r, 4096)
	var soi [2]byte
	if _, err := io.ReadFull(br, soi[:]); err != nil || soi != [2]byte{0xff, 0xd8} {
		return jpegFrame{}, errors.New("files: not a JPEG")
	}
	for {
		b, err := br.ReadByte()
		if err != nil {
			return jpegFrame{}, err
		}
		if b != 0xff {
			continue // stray byte between segments
		}
		m, err := br.ReadByte()
		for err == nil && m == 0xff { // fill bytes
			m, err = br.ReadByte()
		}
		if err != nil {
			return jpegFrame{}, err
		}
		switch {
		case m == 0x00 || m == 0x01 || m == 0xd8 || (m >= 0xd0 && m <= 0xd7):
			continue // no length follows
		case m == 0xd9 || m == 0xda:
			return jpegFrame{}, errors.New("files: JPEG without a frame header")
		}
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return jpegFrame{}, err
		}
		n := int(l[0])<<8 | int(l[1])
		if n < 2 {
			return jpegFrame{}, errors.New("files: bad JPEG segment")
		}
		if m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc {
			seg := make([]byte, n-2)
			if _, err := io.ReadFull(br, seg); err != nil {
				return jpegFrame{}, err
			}
			if len(seg) < 6 || len(seg) < 6+3*int(seg[5]) || seg[5] == 0 {
				return jpegFrame{}, errors.New("files: bad JPEG frame header")
			}
			fr := jpegFrame{progressive: m == 0xc2 || m == 0xc6 || m == 0xca || m == 0xce}
			for i := range int(seg[5]) {
				hv := seg[6+3*i+1]
				fr.hv = append(fr.hv, [2]int64{max(1, int64(hv>>4)), max(1, int64(hv&0x0f))})
			}
			return fr, nil
		}
		if _, err := br.Discard(n - 2); err != nil {
			return jpegFrame{}, err
		}
	}
}

// thumbnailCost is what Thumbnail allocates for a w × h image: the
// thumbnail, each cheap reduction, and the final filter's buffers (a
// [4]float64 per thumbnail column and source row, and its weights).
func thumbnailCost(w, h int) int64 {
	tw, th := thumbSize(w, h)
	cost := int64(4 * tw * th)
	sw, sh := w, h
	for sw > 4*tw && sh > 4*th {
		sw, sh = max(tw, sw/4), max(th, sh/4)
		cost += int64(4 * sw * sh)
	}
	return cost + int64(32*tw*sh) + int64(64*(sw+sh))
}

// Decodable reports whether an image of w × h pixels is within the limits.
func Decodable(w, h int) bool {
	return w > 0 && h > 0 && w <= MaxSide && h <= MaxSide && int64(w)*int64(h) <= MaxPixels
}

// Thumbnail scales img to fit in ThumbSide × ThumbSide (never up), on white
// (JPEG has no transparency).
func Thumbnail(img image.Image) image.Image {
	b := img.Bounds()
	w, h := thumbSize(b.Dx(), b.Dy())
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	src := img
	// CatmullRom's cost grows with the reduction; halve very large images
	// cheaply first so the last step stays sharp and fast.
	for sb := src.Bounds(); sb.Dx() > 4*w && sb.Dy() > 4*h; sb = src.Bounds() {
		mid := image.NewRGBA(image.Rect(0, 0, max(w, sb.Dx()/4), max(h, sb.Dy()/4)))
		draw.ApproxBiLinear.Scale(mid, mid.Bounds(), src, sb, draw.Src, nil)
		src = mid
	}
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Over, nil)
	return dst
}

// thumbSize is the size of the thumbnail of a w × h image.
func thumbSize(w, h int) (int, int) {
	if w > ThumbSide || h > ThumbSide {
		if w >= h {
			return ThumbSide, max(1, h*ThumbSide/w)
		}
		return max(1, w*ThumbSide/h), ThumbSide
	}
	return w, h
}

// writeThumbnail writes data as the blob's thumbnail: tmp, sync, rename, sync dir.
func (s *Store) writeThumbnail(hash string, data []byte) error {
	f, name, err := s.createTemp("thumb-")
	if err != nil {
		return fmt.Errorf("files: thumbnail: %w", err)
	}
	tmp := f.Name()
	defer s.doneTemp(name)
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.ThumbnailPath(hash))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("files: thumbnail: %w", err)
	}
	return syncDir(filepath.Dir(s.ThumbnailPath(hash)))
}
