package server

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"teamchat/server/store"
)

// BackupDir is where automatic backups go inside the data directory.
const BackupDir = "backups"

// backupLoop makes a consistent backup every cfg.BackupEvery until ctx ends.
func (s *Server) backupLoop(ctx context.Context) {
	if s.cfg.BackupEvery <= 0 {
		return
	}
	t := time.NewTicker(s.cfg.BackupEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.AutoBackup(context.Background()); err != nil {
				s.log.Error("automatic backup failed", "err", err)
			}
		}
	}
}

// AutoBackup writes a backup into the data directory's backups/ and keeps the
// newest cfg.BackupKeep of them.
func (s *Server) AutoBackup(ctx context.Context) (string, error) {
	dir := filepath.Join(s.cfg.DataDir, BackupDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	name := filepath.Join(dir, "teamchat-"+time.Now().UTC().Format("20060102-150405.000")+".db")
	if err := s.store.Backup(ctx, name); err != nil {
		return "", err
	}
	s.log.Info("backup written", "file", name)
	if s.cfg.BackupKeep > 0 {
		list, err := ListBackups(s.cfg.DataDir)
		if err == nil && len(list) > s.cfg.BackupKeep {
			for _, old := range list[s.cfg.BackupKeep:] {
				_ = os.Remove(old)
			}
		}
	}
	return name, nil
}

// ListBackups returns the automatic backups of a data directory, newest first.
func ListBackups(dataDir string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(dataDir, BackupDir, "teamchat-*.db"))
	if err != nil {
		return nil, err
	}
	sort.Sort(sort.Reverse(sort.StringSlice(matches)))
	return matches, nil
}

// Restore replaces the data directory's database with a backup file. The
// server must not be running (the data-dir lock is taken). The current
// database files are kept beside it, renamed with a .before-restore suffix.
// from may be "latest" for the newest automatic backup.
func Restore(ctx context.Context, dataDir, from string) (string, error) {
	lock, err := LockDataDir(dataDir)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if from == "latest" {
		list, err := ListBackups(dataDir)
		if err != nil || len(list) == 0 {
			return "", fmt.Errorf("no automatic backups in %s", filepath.Join(dataDir, BackupDir))
		}
		from = list[0]
	}
	if err := checkBackup(ctx, from); err != nil {
		return "", err
	}
	db := filepath.Join(dataDir, DBFile)
	stamp := time.Now().UTC().Format("20060102-150405")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if _, err := os.Stat(db + suffix); err == nil {
			if err := os.Rename(db+suffix, db+suffix+".before-restore-"+stamp); err != nil {
				return "", err
			}
		}
	}
	if err := copyFile(from, db); err != nil {
		return "", err
	}
	return from, nil
}

// checkBackup refuses a file that is not a healthy Team Chat database.
func checkBackup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		return fmt.Errorf("%s is not a healthy database (%v %s): %w", path, err, res, store.ErrCorrupt)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM messages").Scan(&n); err != nil {
		return fmt.Errorf("%s is not a Team Chat database: %w", path, err)
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func latestBackupHint(dataDir string) string {
	list, _ := ListBackups(dataDir)
	if len(list) == 0 {
		return "no automatic backup exists yet; restore a file made by `teamchat backup`: teamchat restore --data " + dataDir + " --from FILE"
	}
	return "the newest automatic backup is " + list[0] + ": teamchat restore --data " + dataDir + " --from latest"
}
