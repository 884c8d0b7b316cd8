package files

import (
	"bytes"
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
// GIF or WebP image within MaxPixels and MaxSide, reads its size and writes
// its thumbnail (once per content). An image that is too large, or that does
// not decode, is reported as TypeOctet with no size and no thumbnail. Call it
// while the blob is pending (between Put and Release).
func (s *Store) Inspect(hash string) (Info, error) {
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
	info := Info{ContentType: Sniff(head[:n])}
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
	if _, err := os.Stat(s.ThumbnailPath(hash)); err == nil {
		return Info{ContentType: info.ContentType, Width: cfg.Width, Height: cfg.Height, Thumbnail: true}, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Info{}, fmt.Errorf("files: inspect: %w", err)
	}
	s.decode <- struct{}{}
	img, err := decode(f)
	<-s.decode
	if err != nil {
		return Info{ContentType: TypeOctet}, nil
	}
	b := img.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height || b.Empty() {
		return Info{ContentType: TypeOctet}, nil
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, Thumbnail(img), &jpeg.Options{Quality: thumbQ}); err != nil {
		return Info{}, fmt.Errorf("files: thumbnail: %w", err)
	}
	if err := s.writeThumbnail(hash, buf.Bytes()); err != nil {
		return Info{}, err
	}
	return Info{ContentType: info.ContentType, Width: cfg.Width, Height: cfg.Height, Thumbnail: true}, nil
}

// Decodable reports whether an image of w × h pixels is within the limits.
func Decodable(w, h int) bool {
	return w > 0 && h > 0 && w <= MaxSide && h <= MaxSide && int64(w)*int64(h) <= MaxPixels
}

// Thumbnail scales img to fit in ThumbSide × ThumbSide (never up), on white
// (JPEG has no transparency).
func Thumbnail(img image.Image) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > ThumbSide || h > ThumbSide {
		if w >= h {
			w, h = ThumbSide, max(1, h*ThumbSide/b.Dx())
		} else {
			w, h = max(1, w*ThumbSide/b.Dy()), ThumbSide
		}
	}
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
