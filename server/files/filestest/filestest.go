// Package filestest holds what the attachment tests share: the hostile files
// they upload and a listing of what is on disk.
package filestest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io/fs"
	"path/filepath"
	"sort"
	"testing"
)

// BombPNG is a valid PNG whose header claims w × h 8-bit RGBA pixels (at
// 30000² that is 3.6 GB once decoded) with about 1 KiB of compressed data.
func BombPNG(w, h uint32) []byte { return bombPNG(w, h, 8) }

// BombPNG16 is BombPNG with 16 bits per channel: 8 bytes a pixel once
// decoded, so 7071 × 7071 (just under 50 megapixels) takes 400 MB.
func BombPNG16(w, h uint32) []byte { return bombPNG(w, h, 16) }

func bombPNG(w, h uint32, depth byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		c := crc32.NewIEEE()
		c.Write([]byte(typ))
		c.Write(data)
		b.WriteString(typ)
		b.Write(data)
		_ = binary.Write(&b, binary.BigEndian, c.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = depth, 6 // RGBA
	chunk("IHDR", ihdr)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(make([]byte, 1<<20))
	_ = zw.Close()
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return b.Bytes()
}

// Tree lists every regular file under root as slash-separated paths relative
// to root, sorted; a root that does not exist has none.
func Tree(tb testing.TB, root string) []string {
	tb.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipDir
			}
			return err
		}
		if !d.IsDir() {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("listing %s: %v", root, err)
	}
	sort.Strings(out)
	return out
}
