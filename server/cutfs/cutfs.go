// Package cutfs is a FUSE filesystem for power-cut tests. It holds files in
// memory the way a disk with a write cache does: every write, truncate,
// create, unlink and rename is visible at once (the page cache), but it is on
// "disk" only after an fsync or fdatasync of that file (data and size) or, for
// names in a directory, an fsync of that directory. Cut simulates the power
// failing: from then on every operation fails with EIO, and what survives is
// the durable state plus, per file, an in-order prefix of the writes not yet
// synced — none of them half of the time — and the first write after that
// prefix torn (a random number of its 512-byte sectors reached the platter).
// The survivor is mounted again to restart a program on it.
//
// Only what SQLite and the attachment store use is modelled: regular files
// and directories (no links, no symlinks, no xattrs); file locks are left to
// the kernel (the filesystem does not claim lock support), shared mmap (the
// WAL index) goes through the kernel's page cache as it does on a disk.
// fsync and fdatasync are treated alike: both make the file's data and size
// durable, which is what fdatasync promises too (timestamps are not kept).
package cutfs

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

const (
	sector          = 512
	renameNoReplace = 1 // RENAME_NOREPLACE
)

// Tree is a filesystem's content by slash-separated path: directories and
// files. Mount takes one as its durable starting state; Cut returns one.
type Tree struct {
	Dirs  []string
	Files map[string][]byte
}

// FS is one mounted filesystem.
type FS struct {
	mu     sync.Mutex // every operation: the model is simple, not fast
	frozen bool
	root   *dir
	server *fuse.Server
	dir    string
	Stats  Stats

	armed int             // mutating operations left before an armed cut; 0: none armed
	rng   *rand.Rand      // the armed cut's draws
	cut   chan CutOutcome // the armed cut's outcome
}

// CutOutcome is what survived a cut and how.
type CutOutcome struct {
	Tree   *Tree
	Report CutReport
}

// Stats counts what the program did, for the test's log.
type Stats struct {
	Writes, Fsyncs, DirFsyncs, Truncates int
}

type op struct {
	truncate bool
	off      int64 // truncate: the new size
	data     []byte
}

type file struct {
	fs.Inode
	fsys    *FS
	mode    uint32
	data    []byte // what readers see
	durable []byte // what is on the disk
	pending []op   // writes and truncates since the last fsync, in order
}

type dir struct {
	fs.Inode
	fsys    *FS
	mode    uint32
	durable map[string]fs.InodeEmbedder // the names on the disk
	build   *Tree                       // root only: the tree to create on mount
}

// Mount mounts a new filesystem at mountpoint whose durable and visible
// content is t (nil: empty). It needs root and /dev/fuse.
func Mount(mountpoint string, t *Tree) (*FS, error) {
	f := &FS{dir: mountpoint}
	f.root = &dir{fsys: f, mode: 0o755, durable: map[string]fs.InodeEmbedder{}, build: t}
	var zero time.Duration // no kernel caching of names and sizes: the model is the truth
	opts := &fs.Options{
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			FsName:            "cutfs",
			Name:              "cutfs",
			DirectMountStrict: true, // as root: mount(2) itself, no fusermount needed
			MaxBackground:     64,
		},
	}
	srv, err := fs.Mount(mountpoint, f.root, opts)
	if err != nil {
		return nil, fmt.Errorf("cutfs: mount %s: %w", mountpoint, err)
	}
	f.server = srv
	return f, nil
}

// Unmount unmounts the filesystem; the program using it must have exited.
func (f *FS) Unmount() error {
	return f.server.Unmount()
}

// OnAdd builds the starting tree, all of it durable.
func (d *dir) OnAdd(ctx context.Context) {
	t := d.build
	d.build = nil
	if t == nil {
		return
	}
	dirs := append([]string(nil), t.Dirs...)
	sort.Strings(dirs) // parents first
	for _, p := range dirs {
		parent, name := d.walk(ctx, p)
		child := &dir{fsys: d.fsys, mode: 0o755, durable: map[string]fs.InodeEmbedder{}}
		parent.AddChild(name, parent.NewPersistentInode(ctx, child, fs.StableAttr{Mode: syscall.S_IFDIR}), false)
		parent.Operations().(*dir).durable[name] = child
	}
	for p, data := range t.Files {
		parent, name := d.walk(ctx, p)
		child := &file{fsys: d.fsys, mode: 0o644, data: append([]byte(nil), data...), durable: append([]byte(nil), data...)}
		parent.AddChild(name, parent.NewPersistentInode(ctx, child, fs.StableAttr{Mode: syscall.S_IFREG}), false)
		parent.Operations().(*dir).durable[name] = child
	}
}

// walk finds the parent directory of p (which must exist already).
func (d *dir) walk(ctx context.Context, p string) (*fs.Inode, string) {
	n := d.EmbeddedInode()
	parts := splitPath(p)
	for _, part := range parts[:len(parts)-1] {
		n = n.GetChild(part)
	}
	return n, parts[len(parts)-1]
}

func splitPath(p string) []string {
	return strings.Split(path.Clean(filepath.ToSlash(p)), "/")
}

// lock takes the filesystem's lock; it answers EIO once the power is cut.
func (f *FS) lock() syscall.Errno {
	f.mu.Lock()
	if f.frozen {
		f.mu.Unlock()
		return syscall.EIO
	}
	return 0
}

// ---- directories ----

var (
	_ fs.NodeCreater   = (*dir)(nil)
	_ fs.NodeMkdirer   = (*dir)(nil)
	_ fs.NodeUnlinker  = (*dir)(nil)
	_ fs.NodeRmdirer   = (*dir)(nil)
	_ fs.NodeRenamer   = (*dir)(nil)
	_ fs.NodeFsyncer   = (*dir)(nil)
	_ fs.NodeGetattrer = (*dir)(nil)
	_ fs.NodeSetattrer = (*dir)(nil)
	_ fs.NodeStatfser  = (*dir)(nil)
)

func (d *dir) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if e := d.fsys.lock(); e != 0 {
		return e
	}
	defer d.fsys.mu.Unlock()
	out.Mode = syscall.S_IFDIR | d.mode
	out.Nlink = 2
	return 0
}

func (d *dir) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := d.fsys.lock(); e != 0 {
		return e
	}
	defer d.fsys.mu.Unlock()
	if m, ok := in.GetMode(); ok {
		d.mode = m & 0o7777
	}
	out.Mode = syscall.S_IFDIR | d.mode
	out.Nlink = 2
	return 0
}

func (d *dir) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	out.Bsize, out.Frsize = 4096, 4096
	out.Blocks, out.Bfree, out.Bavail = 1<<24, 1<<23, 1<<23
	out.Files, out.Ffree = 1<<20, 1<<19
	out.NameLen = 255
	return 0
}

func (d *dir) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if e := d.fsys.lock(); e != 0 {
		return nil, nil, 0, e
	}
	defer d.fsys.mu.Unlock()
	f := &file{fsys: d.fsys, mode: mode & 0o7777}
	out.Mode = syscall.S_IFREG | f.mode
	out.Nlink = 1
	return d.NewPersistentInode(ctx, f, fs.StableAttr{Mode: syscall.S_IFREG}), nil, 0, 0
}

func (d *dir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := d.fsys.lock(); e != 0 {
		return nil, e
	}
	defer d.fsys.mu.Unlock()
	c := &dir{fsys: d.fsys, mode: mode & 0o7777, durable: map[string]fs.InodeEmbedder{}}
	out.Mode = syscall.S_IFDIR | c.mode
	out.Nlink = 2
	return d.NewPersistentInode(ctx, c, fs.StableAttr{Mode: syscall.S_IFDIR}), 0
}

func (d *dir) Unlink(ctx context.Context, name string) syscall.Errno {
	if e := d.fsys.lock(); e != 0 {
		return e
	}
	defer d.fsys.mu.Unlock()
	if d.GetChild(name) == nil {
		return syscall.ENOENT
	}
	return 0 // go-fuse removes the name from the visible tree
}

func (d *dir) Rmdir(ctx context.Context, name string) syscall.Errno {
	if e := d.fsys.lock(); e != 0 {
		return e
	}
	defer d.fsys.mu.Unlock()
	c := d.GetChild(name)
	if c == nil {
		return syscall.ENOENT
	}
	if len(c.Children()) > 0 {
		return syscall.ENOTEMPTY
	}
	return 0
}

func (d *dir) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if e := d.fsys.lock(); e != 0 {
		return e
	}
	defer d.fsys.mu.Unlock()
	if flags&^uint32(renameNoReplace) != 0 {
		return syscall.EINVAL // exchange and whiteout are not modelled
	}
	if d.GetChild(name) == nil {
		return syscall.ENOENT
	}
	if flags&renameNoReplace != 0 && newParent.EmbeddedInode().GetChild(newName) != nil {
		return syscall.EEXIST
	}
	return 0 // go-fuse moves the name in the visible tree
}

// Fsync of a directory makes its names as they are now durable.
func (d *dir) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	if e := d.fsys.lock(); e != 0 {
		return e
	}
	defer d.fsys.mu.Unlock()
	if d.fsys.trip() {
		return syscall.EIO
	}
	d.fsys.Stats.DirFsyncs++
	d.syncNames()
	return 0
}

func (d *dir) syncNames() {
	d.durable = map[string]fs.InodeEmbedder{}
	for name, c := range d.Children() {
		d.durable[name] = c.Operations()
	}
}

// ---- files ----

var (
	_ fs.NodeOpener    = (*file)(nil)
	_ fs.NodeReader    = (*file)(nil)
	_ fs.NodeWriter    = (*file)(nil)
	_ fs.NodeFsyncer   = (*file)(nil)
	_ fs.NodeGetattrer = (*file)(nil)
	_ fs.NodeSetattrer = (*file)(nil)
	_ fs.NodeFlusher   = (*file)(nil)
	_ fs.NodeReleaser  = (*file)(nil)
	_ fs.NodeAllocater = (*file)(nil)
)

func (f *file) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if e := f.fsys.lock(); e != 0 {
		return nil, 0, e
	}
	defer f.fsys.mu.Unlock()
	if flags&syscall.O_TRUNC != 0 {
		f.truncate(0)
	}
	return nil, 0, 0
}

func (f *file) attr(out *fuse.Attr) {
	out.Mode = syscall.S_IFREG | f.mode
	out.Nlink = 1
	out.Size = uint64(len(f.data))
	out.Blocks = (out.Size + 511) / 512
	out.Blksize = 4096
}

func (f *file) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if e := f.fsys.lock(); e != 0 {
		return e
	}
	defer f.fsys.mu.Unlock()
	f.attr(&out.Attr)
	return 0
}

func (f *file) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := f.fsys.lock(); e != 0 {
		return e
	}
	defer f.fsys.mu.Unlock()
	if sz, ok := in.GetSize(); ok {
		f.truncate(int64(sz))
		if f.fsys.trip() {
			return syscall.EIO
		}
	}
	if m, ok := in.GetMode(); ok {
		f.mode = m & 0o7777
	}
	f.attr(&out.Attr)
	return 0
}

func (f *file) Allocate(ctx context.Context, fh fs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	if e := f.fsys.lock(); e != 0 {
		return e
	}
	defer f.fsys.mu.Unlock()
	const keepSize = 1 // FALLOC_FL_KEEP_SIZE
	if mode&keepSize == 0 && int64(off+size) > int64(len(f.data)) {
		f.truncate(int64(off + size))
	}
	return 0
}

func (f *file) truncate(size int64) {
	f.fsys.Stats.Truncates++
	f.data = resize(f.data, size)
	f.pending = append(f.pending, op{truncate: true, off: size})
}

func resize(b []byte, size int64) []byte {
	if size <= int64(len(b)) {
		return b[:size]
	}
	return append(b, make([]byte, size-int64(len(b)))...)
}

func (f *file) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if e := f.fsys.lock(); e != 0 {
		return nil, e
	}
	defer f.fsys.mu.Unlock()
	if off >= int64(len(f.data)) {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), int64(len(f.data)))
	return fuse.ReadResultData(append([]byte(nil), f.data[off:end]...)), 0
}

func (f *file) Write(ctx context.Context, fh fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	if e := f.fsys.lock(); e != 0 {
		return 0, e
	}
	defer f.fsys.mu.Unlock()
	f.fsys.Stats.Writes++
	f.data = writeAt(f.data, data, off)
	f.pending = append(f.pending, op{off: off, data: append([]byte(nil), data...)})
	if f.fsys.trip() { // the power failed while this write was on its way
		return 0, syscall.EIO
	}
	return uint32(len(data)), 0
}

func writeAt(b, data []byte, off int64) []byte {
	if end := off + int64(len(data)); end > int64(len(b)) {
		b = resize(b, end)
	}
	copy(b[off:], data)
	return b
}

// Fsync (and fdatasync) of a file makes its data and size durable.
func (f *file) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	if e := f.fsys.lock(); e != 0 {
		return e
	}
	defer f.fsys.mu.Unlock()
	if f.fsys.trip() {
		return syscall.EIO
	}
	f.fsys.Stats.Fsyncs++
	f.syncData()
	return 0
}

func (f *file) syncData() {
	for _, o := range f.pending {
		f.durable = apply(f.durable, o)
	}
	f.pending = nil
}

func apply(b []byte, o op) []byte {
	if o.truncate {
		return resize(b, o.off)
	}
	return writeAt(b, o.data, o.off)
}

func (f *file) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno   { return 0 }
func (f *file) Release(ctx context.Context, fh fs.FileHandle) syscall.Errno { return 0 }

// ---- the cut ----

// Sync makes everything durable, like sync(1) on a quiet machine.
func (f *FS) Sync() {
	f.mu.Lock()
	defer f.mu.Unlock()
	var walk func(d *dir)
	walk = func(d *dir) {
		d.syncNames()
		for _, c := range d.Children() {
			switch n := c.Operations().(type) {
			case *dir:
				walk(n)
			case *file:
				n.syncData()
			}
		}
	}
	walk(f.root)
}

// CutReport says what the cut did.
type CutReport struct {
	PendingWrites int // writes and truncates not yet synced, over all files
	Kept          int // of those, how many reached the disk whole
	Torn          int // files whose next write was torn
}

// CutAfter arms a cut at the n-th mutating operation from now (a write, a
// truncate, an fsync of a file or a directory): that operation fails with
// EIO, a write of it may be torn, and every later one fails too. The outcome
// arrives on the channel.
func (f *FS) CutAfter(n int, rng *rand.Rand) <-chan CutOutcome {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed, f.rng, f.cut = max(n, 1), rng, make(chan CutOutcome, 1)
	return f.cut
}

// trip counts a mutating operation against an armed cut; true: the power is
// off now. The caller holds f.mu.
func (f *FS) trip() bool {
	if f.armed == 0 {
		return false
	}
	f.armed--
	if f.armed > 0 {
		return false
	}
	tree, rep := f.cutLocked(f.rng)
	f.cut <- CutOutcome{Tree: tree, Report: rep}
	return true
}

// Cut cuts the power now (if an armed cut has not already): every later
// operation fails with EIO, and the state that survived is returned (see
// the package comment), drawn with rng.
func (f *FS) Cut(rng *rand.Rand) (*Tree, CutReport) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.frozen {
		return nil, CutReport{}
	}
	f.armed = 0
	return f.cutLocked(rng)
}

func (f *FS) cutLocked(rng *rand.Rand) (*Tree, CutReport) {
	f.frozen = true
	var rep CutReport
	t := &Tree{Files: map[string][]byte{}}
	var walk func(d *dir, prefix string)
	walk = func(d *dir, prefix string) {
		names := make([]string, 0, len(d.durable))
		for name := range d.durable {
			names = append(names, name)
		}
		sort.Strings(names) // the same rng draws for the same state
		for _, name := range names {
			p := prefix + name
			switch n := d.durable[name].(type) {
			case *dir:
				t.Dirs = append(t.Dirs, p)
				walk(n, p+"/")
			case *file:
				t.Files[p] = n.survivor(rng, &rep)
			}
		}
	}
	walk(f.root, "")
	return t, rep
}

// survivor is the file's durable content, an in-order prefix of its pending
// writes, and the next one torn.
func (f *file) survivor(rng *rand.Rand, rep *CutReport) []byte {
	b := append([]byte(nil), f.durable...)
	rep.PendingWrites += len(f.pending)
	if len(f.pending) == 0 {
		return b
	}
	keep := 0
	if rng.IntN(2) == 1 {
		keep = rng.IntN(len(f.pending) + 1)
	}
	for _, o := range f.pending[:keep] {
		b = apply(b, o)
	}
	rep.Kept += keep
	if keep < len(f.pending) {
		o := f.pending[keep]
		if o.truncate {
			if rng.IntN(2) == 1 {
				b = apply(b, o)
			}
		} else if n := len(o.data); n > 0 {
			// Sectors of the write, from its first, reached the disk.
			sectors := (n + sector - 1) / sector
			part := min(n, rng.IntN(sectors+1)*sector)
			b = writeAt(b, o.data[:part], o.off)
			rep.Torn++
		}
	}
	return b
}

// TreeFromDir reads a directory on the real disk into a Tree.
func TreeFromDir(root string) (*Tree, error) {
	t := &Tree{Files: map[string][]byte{}}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case info.IsDir():
			t.Dirs = append(t.Dirs, rel)
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			t.Files[rel] = b
		}
		return nil
	})
	return t, err
}

// WriteTo writes the tree under root on the real disk, to be inspected there:
// a process serving a FUSE filesystem must not map its files (SQLite maps the
// WAL index): a page fault served by its own stopped goroutines deadlocks.
func (t *Tree) WriteTo(root string) error {
	dirs := append([]string(nil), t.Dirs...)
	sort.Strings(dirs)
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(d)), 0o755); err != nil {
			return err
		}
	}
	for p, b := range t.Files {
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(p)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
