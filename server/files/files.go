// Package files is the attachments' blob store: every file once, named by the
// SHA-256 of its bytes, under <data>/attachments/<hh>/<hash> (hh: the first two
// hex digits), with its thumbnail next to it as <hash>.thumb.jpg. A blob is
// written to attachments/tmp/ first, synced, then renamed into place and its
// directory synced, so a blob that is visible is complete and on disk.
//
// Rows of the database refer to blobs; the caller records a row only after Put
// returned, and calls Release once the row is committed (or failed). Until
// then the blob is pending and Sweep leaves it alone, so a sweep running next
// to an upload never removes a blob whose row is about to be committed.
package files

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ErrTooLarge means the content was longer than the limit given to Put.
var ErrTooLarge = errors.New("files: content over the size limit")

// ErrRead wraps an error of the reader given to Put (the uploader's side).
var ErrRead = errors.New("files: reading the content failed")

// errReader remembers its reader's error, to tell it from the disk's.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

const (
	tmpDir      = "tmp"
	thumbSuffix = ".thumb.jpg"
)

// Store is the blob store rooted at <data>/attachments.
type Store struct {
	root string

	mu       sync.Mutex
	pending  map[string]int  // blobs Put but not yet Released (their rows may be being committed)
	inflight map[string]bool // temporary files being written (base names)

	budget       *decodeBudget     // memory of the image decodes in flight (budget.go)
	beforeDecode func(owner int64) // tests: runs with the budget granted, before decoding
}

// New opens (creating) the blob store under dataDir/attachments.
func New(dataDir string) (*Store, error) {
	root := filepath.Join(dataDir, "attachments")
	if err := os.MkdirAll(filepath.Join(root, tmpDir), 0o700); err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	return &Store{root: root, pending: map[string]int{}, inflight: map[string]bool{}, budget: newDecodeBudget(DecodeBudget)}, nil
}

// Root is the directory the blobs live in.
func (s *Store) Root() string { return s.root }

// ValidHash reports whether h looks like a blob name (64 lower-case hex digits).
func ValidHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Path is where the blob hash lives.
func (s *Store) Path(hash string) string { return filepath.Join(s.root, hash[:2], hash) }

// ThumbnailPath is where the blob's thumbnail lives.
func (s *Store) ThumbnailPath(hash string) string { return s.Path(hash) + thumbSuffix }

// Put stores r's content, at most max bytes (more: ErrTooLarge, and nothing is
// kept; an error of r itself: ErrRead). It returns the content's SHA-256 (hex) and size once the blob is
// synced in place. The blob is pending until Release(hash).
func (s *Store) Put(r io.Reader, max int64) (hash string, size int64, err error) {
	f, name, err := s.createTemp("put-")
	if err != nil {
		return "", 0, fmt.Errorf("files: put: %w", err)
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
		s.doneTemp(name)
	}()
	h := sha256.New()
	er := &errReader{r: io.LimitReader(r, max+1)}
	size, err = io.Copy(io.MultiWriter(f, h), er)
	if er.err != nil {
		return "", 0, fmt.Errorf("%w: %w", ErrRead, er.err)
	}
	if err != nil {
		return "", 0, fmt.Errorf("files: put: %w", err)
	}
	if size > max {
		return "", 0, ErrTooLarge
	}
	if err := f.Sync(); err != nil {
		return "", 0, fmt.Errorf("files: put: sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", 0, fmt.Errorf("files: put: close: %w", err)
	}
	hash = hex.EncodeToString(h.Sum(nil))
	dir := filepath.Join(s.root, hash[:2])
	if err := s.mkdir(dir); err != nil {
		return "", 0, err
	}
	final := s.Path(hash)
	s.mu.Lock()
	if _, statErr := os.Stat(final); statErr == nil {
		os.Remove(tmp) // the same content is already stored
	} else if err = os.Rename(tmp, final); err != nil {
		s.mu.Unlock()
		return "", 0, fmt.Errorf("files: put: %w", err)
	}
	done = true
	s.pending[hash]++
	s.mu.Unlock()
	if err := syncDir(dir); err != nil {
		s.Release(hash)
		return "", 0, err
	}
	return hash, size, nil
}

// createTemp creates a new file in tmp/, registered as in flight (so Sweep
// leaves it alone) before it exists. doneTemp ends that.
func (s *Store) createTemp(prefix string) (*os.File, string, error) {
	for range 100 {
		var rnd [12]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return nil, "", err
		}
		name := prefix + hex.EncodeToString(rnd[:])
		s.mu.Lock()
		s.inflight[name] = true
		s.mu.Unlock()
		f, err := os.OpenFile(filepath.Join(s.root, tmpDir, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			return f, name, nil
		}
		s.doneTemp(name)
		if !errors.Is(err, fs.ErrExist) {
			return nil, "", err
		}
	}
	return nil, "", errors.New("files: no free temporary name")
}

func (s *Store) doneTemp(name string) {
	s.mu.Lock()
	delete(s.inflight, name)
	s.mu.Unlock()
}

// mkdir creates a shard directory, syncing its parent when it is new.
func (s *Store) mkdir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("files: %w", err)
	}
	return syncDir(s.root)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("files: sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("files: sync dir %s: %w", dir, err)
	}
	return nil
}

// Release ends a blob's pending state (its row is committed, or will never be).
func (s *Store) Release(hash string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[hash] <= 1 {
		delete(s.pending, hash)
		return
	}
	s.pending[hash]--
}

// Open opens a blob for reading.
func (s *Store) Open(hash string) (*os.File, error) {
	if !ValidHash(hash) {
		return nil, fs.ErrNotExist
	}
	return os.Open(s.Path(hash))
}

// OpenThumbnail opens a blob's thumbnail (a JPEG).
func (s *Store) OpenThumbnail(hash string) (*os.File, error) {
	if !ValidHash(hash) {
		return nil, fs.ErrNotExist
	}
	return os.Open(s.ThumbnailPath(hash))
}

// Remove deletes a blob and its thumbnail, whatever refers to them.
func (s *Store) Remove(hash string) error {
	if !ValidHash(hash) {
		return fs.ErrNotExist
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.remove(hash)
}

func (s *Store) remove(hash string) error {
	err := os.Remove(s.Path(hash))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("files: remove: %w", err)
	}
	if err := os.Remove(s.ThumbnailPath(hash)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("files: remove thumbnail: %w", err)
	}
	return nil
}

// RemoveIfUnused deletes a blob (and thumbnail) that is not pending and that
// used says no row refers to. used is called with the store locked, so no Put
// of the same content can finish in between. It reports whether it removed.
func (s *Store) RemoveIfUnused(hash string, used func(hash string) bool) (bool, error) {
	if !ValidHash(hash) {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[hash] > 0 || used(hash) {
		return false, nil
	}
	return true, s.remove(hash)
}

// SweepStats says what a sweep removed.
type SweepStats struct {
	Temp       int // temporary files (an upload or thumbnail cut short)
	Blobs      int // blobs no row uses
	Thumbnails int // thumbnails without their blob, or of a removed blob
}

// Sweep removes temporary files that no Put is writing, and the blobs (with
// their thumbnails) that are not pending and that used says no row refers to.
// used is called per blob with the store locked (see RemoveIfUnused); when it
// cannot tell (an error), it must answer true. Unknown files are left alone.
func (s *Store) Sweep(used func(hash string) bool) (SweepStats, error) {
	var st SweepStats
	var errs []error
	tmps, err := os.ReadDir(filepath.Join(s.root, tmpDir))
	if err != nil {
		return st, fmt.Errorf("files: sweep: %w", err)
	}
	for _, e := range tmps {
		s.mu.Lock()
		if !s.inflight[e.Name()] {
			if err := os.Remove(filepath.Join(s.root, tmpDir, e.Name())); err == nil {
				st.Temp++
			} else if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		s.mu.Unlock()
	}
	shards, err := os.ReadDir(s.root)
	if err != nil {
		return st, fmt.Errorf("files: sweep: %w", err)
	}
	for _, sh := range shards {
		if !sh.IsDir() || len(sh.Name()) != 2 || !ValidHash(sh.Name()+strings.Repeat("0", 62)) {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(s.root, sh.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, e := range entries {
			name := e.Name()
			switch {
			case ValidHash(name) && name[:2] == sh.Name():
				removed, err := s.RemoveIfUnused(name, used)
				if err != nil {
					errs = append(errs, err)
				} else if removed {
					st.Blobs++
				}
			case strings.HasSuffix(name, thumbSuffix) && ValidHash(strings.TrimSuffix(name, thumbSuffix)):
				h := strings.TrimSuffix(name, thumbSuffix)
				s.mu.Lock()
				if s.pending[h] == 0 {
					if _, err := os.Stat(s.Path(h)); errors.Is(err, fs.ErrNotExist) {
						if err := os.Remove(filepath.Join(s.root, sh.Name(), name)); err == nil {
							st.Thumbnails++
						} else if !errors.Is(err, fs.ErrNotExist) {
							errs = append(errs, err)
						}
					}
				}
				s.mu.Unlock()
			}
		}
	}
	return st, errors.Join(errs...)
}
