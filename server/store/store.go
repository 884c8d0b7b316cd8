// Package store keeps Team Chat's data in one SQLite file (modernc.org/sqlite,
// raw SQL, WAL). One writer connection serializes writes; a small pool serves reads.
// Writes run on a context that a cancelled request cannot interrupt.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"teamchat/server/model"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// writeTimeout bounds one write transaction; it is detached from the caller's context.
const writeTimeout = 30 * time.Second

// Store is the database.
type Store struct {
	w    *sql.DB // exactly one connection: every write goes through it
	r    *sql.DB // readers
	path string
	app  appendStmts
	idx  *indexer // the full-text index behind the commit (indexer.go)
}

// ErrCorrupt means the database file failed its integrity check.
var ErrCorrupt = errors.New("database is corrupt")

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	// busy_timeout first, so the journal_mode change itself waits for locks.
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// FULL: an acknowledged commit survives a power cut, not only a crash.
	q.Add("_pragma", "synchronous(FULL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database at path, checks it and migrates it.
func Open(ctx context.Context, path string) (*Store, error) {
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w, path: path}
	if err := s.check(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if err := s.prepareAppend(); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: prepare: %w", err)
	}
	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open readers: %w", err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	s.r = r
	if err := s.startIndexer(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	return s, nil
}

// check refuses a file that is not a healthy SQLite database.
func (s *Store) check(ctx context.Context) error {
	rows, err := s.w.QueryContext(ctx, "PRAGMA quick_check(5)")
	var problems []string
	if err == nil {
		for rows.Next() {
			var line string
			if err = rows.Scan(&line); err != nil {
				break
			}
			problems = append(problems, line)
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
	}
	if err != nil {
		var se *sqlite.Error
		// Extended result codes are on: compare the primary code.
		if errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_NOTADB || se.Code()&0xff == sqlite3.SQLITE_CORRUPT) {
			return fmt.Errorf("%w: %s: %v", ErrCorrupt, s.path, err)
		}
		return fmt.Errorf("store: check %s: %w", s.path, err)
	}
	if len(problems) != 1 || problems[0] != "ok" {
		return fmt.Errorf("%w: %s: %s", ErrCorrupt, s.path, strings.Join(problems, "; "))
	}
	return nil
}

// Close checkpoints the WAL and closes every connection.
func (s *Store) Close() error {
	var errs []error
	if s.idx != nil {
		s.idx.close()
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if _, err := s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		errs = append(errs, fmt.Errorf("store: checkpoint: %w", err))
	}
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

func (s *Store) migrate(ctx context.Context) error {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	type mig struct {
		version int
		name    string
	}
	var migs []mig
	for _, e := range entries {
		n, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(n)
		if !ok || err != nil {
			return fmt.Errorf("store: migration %q: name must start with a number", e.Name())
		}
		migs = append(migs, mig{v, e.Name()})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })
	var current int
	if err := s.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("store: user_version: %w", err)
	}
	if len(migs) > 0 && current > migs[len(migs)-1].version {
		return fmt.Errorf("store: database schema %d is newer than this program (%d): upgrade Team Chat", current, migs[len(migs)-1].version)
	}
	for _, m := range migs {
		if m.version <= current {
			continue
		}
		body, err := migrationFiles.ReadFile("migrations/" + m.name)
		if err != nil {
			return err
		}
		err = s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.Exec(string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", m.version))
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migration %s: %w", m.name, err)
		}
	}
	return nil
}

// tx runs fn in one IMMEDIATE write transaction on the writer connection.
// The caller's cancellation is ignored (a cancelled commit must not be
// interrupted half-way), but the transaction is bounded by writeTimeout.
func (s *Store) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	tx, err := s.w.BeginTx(wctx, nil)
	if err != nil {
		return mapErr(fmt.Errorf("store: begin: %w", err))
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return mapErr(err)
	}
	if err := tx.Commit(); err != nil {
		return mapErr(fmt.Errorf("store: commit: %w", err))
	}
	return nil
}

// mapErr turns driver errors into domain errors; others pass through wrapped.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", model.ErrConflict, err)
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("%w: %v", model.ErrUnavailable, err)
		}
		if se.Code()&0xff == sqlite3.SQLITE_IOERR || se.Code()&0xff == sqlite3.SQLITE_FULL || se.Code()&0xff == sqlite3.SQLITE_BUSY {
			return fmt.Errorf("%w: %v", model.ErrUnavailable, err)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %v", model.ErrNotFound, err)
	}
	return err
}

// Backup writes a consistent copy of the database to path (VACUUM INTO), while
// the server keeps running.
func (s *Store) Backup(ctx context.Context, path string) error {
	// A connection of its own: readers are query_only, and the writer must
	// stay free for messages while the copy is made from a read snapshot.
	db, err := sql.Open("sqlite", dsn(s.path, false))
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("store: backup to %s: %w", path, err)
	}
	return nil
}

// queryIDs runs a read query whose rows are single integer ids.
func (s *Store) queryIDs(ctx context.Context, what, query string, args ...any) ([]int64, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func now() int64 { return time.Now().UnixMilli() }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
