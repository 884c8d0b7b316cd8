package cutfs

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func mountTemp(t *testing.T, tree *Tree) (*FS, string) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and /dev/fuse")
	}
	dir := t.TempDir()
	f, err := Mount(dir, tree)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Unmount() })
	return f, dir
}

func write(t *testing.T, p string, data []byte, sync bool) {
	t.Helper()
	fh, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	st, _ := fh.Stat()
	if _, err := fh.WriteAt(data, st.Size()); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := fh.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}

func syncDir(t *testing.T, p string) {
	t.Helper()
	d, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
}

// Over many cuts: what was synced survives whole; what was not is absent or
// an in-order prefix with the next write torn at a sector; names need the
// directory's fsync.
func TestCutKeepsExactlyWhatWasSynced(t *testing.T) {
	a := bytes.Repeat([]byte("a"), 4096)
	b := bytes.Repeat([]byte("b"), 3000)
	sawDropped, sawTorn := false, false
	for trial := range 40 {
		f, dir := mountTemp(t, &Tree{Dirs: []string{"data"}, Files: map[string][]byte{"data/old": []byte("kept")}})
		data := filepath.Join(dir, "data")
		write(t, filepath.Join(data, "db"), a, true)
		write(t, filepath.Join(data, "tmp"), a, true)
		syncDir(t, data)
		write(t, filepath.Join(data, "db"), b, false)
		write(t, filepath.Join(data, "unnamed"), a, true) // synced data, its name never
		if err := os.Rename(filepath.Join(data, "tmp"), filepath.Join(data, "moved")); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(data, "old")); err != nil {
			t.Fatal(err)
		}
		tree, _ := f.Cut(rand.New(rand.NewPCG(uint64(trial), 1)))
		if _, err := os.ReadFile(filepath.Join(data, "db")); !errors.Is(err, syscall.EIO) {
			t.Fatalf("read after the cut: %v, want EIO", err)
		}
		got := tree.Files["data/db"]
		if !bytes.Equal(got[:min(len(got), len(a))], a) || len(got) < len(a) {
			t.Fatalf("synced data lost: %d bytes", len(got))
		}
		rest := got[len(a):]
		if !bytes.Equal(rest, b[:len(rest)]) || (len(rest)%sector != 0 && len(rest) != len(b)) {
			t.Fatalf("unsynced part is not a sector prefix of the write: %d bytes", len(rest))
		}
		sawDropped = sawDropped || len(rest) == 0
		sawTorn = sawTorn || (len(rest) > 0 && len(rest) < len(b))
		if _, ok := tree.Files["data/unnamed"]; ok {
			t.Fatal("a name survived without its directory's fsync")
		}
		if _, ok := tree.Files["data/moved"]; ok {
			t.Fatal("an unsynced rename survived")
		}
		if _, ok := tree.Files["data/tmp"]; !ok {
			t.Fatal("the durable name of a renamed file is lost")
		}
		if string(tree.Files["data/old"]) != "kept" {
			t.Fatal("an unsynced unlink took effect")
		}
		if err := f.Unmount(); err != nil {
			t.Fatal(err)
		}
		// The survivor mounts again with that content.
		f2, dir2 := mountTemp(t, tree)
		if got2, err := os.ReadFile(filepath.Join(dir2, "data", "db")); err != nil || !bytes.Equal(got2, got) {
			t.Fatalf("remounted: %d bytes, %v", len(got2), err)
		}
		f2.Unmount()
	}
	if !sawDropped || !sawTorn {
		t.Fatalf("40 cuts never dropped (%v) or never tore (%v) the unsynced write", sawDropped, sawTorn)
	}
}
