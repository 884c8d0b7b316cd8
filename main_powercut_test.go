package main

// Power cut: the server runs on cutfs, a FUSE filesystem that keeps every
// write not yet fsynced in memory only; mid-burst the power is "cut" (what was
// not synced is dropped, an in-order part of it may have reached the disk,
// the next write torn), the server is killed, and a new one starts on what
// survived. synchronous=FULL promises that every acked message is there,
// exactly once, with gap-free seqs and a sound database. 5 trials here,
// TEAMCHAT_POWERCUT_TRIALS=50 in make test-powercut.

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"teamchat/server/cutfs"
)

// cutOps is about how many writes, truncates and fsyncs a burst of the test
// makes on cutfs (the log of each trial says); cut points are drawn below it.
const cutOps = 400

type CutOutcome = cutfs.CutOutcome

func TestPowerCutLosesNothingAcked(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil || os.Geteuid() != 0 {
		t.Skip("the power-cut test mounts a FUSE filesystem: it needs root and /dev/fuse")
	}
	trials := 5
	if v, err := strconv.Atoi(os.Getenv("TEAMCHAT_POWERCUT_TRIALS")); err == nil && v > 0 {
		trials = v
	}
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("TEAMCHAT_POWERCUT_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("TEAMCHAT_POWERCUT_SEED=%d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))

	// The class as it is before the lecture, synced to disk: accounts and the
	// server's own files from a first clean start.
	users := []string{"stu0", "stu1", "stu2", "stu3", "stu4", "stu5"}
	tmpl := filepath.Join(t.TempDir(), "data")
	addUser(t, tmpl, "prof", "admin")
	for _, u := range users {
		addUser(t, tmpl, u, "user")
	}
	p0 := startServer(t, tmpl)
	if err := p0.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := p0.wait(); err != nil {
		t.Fatalf("first start did not stop cleanly: %v\n%s", err, p0.logs)
	}
	start, err := cutfs.TreeFromDir(filepath.Dir(tmpl))
	if err != nil {
		t.Fatal(err)
	}

	for trial := range trials {
		t.Run(fmt.Sprintf("trial-%d", trial), func(t *testing.T) {
			mnt := t.TempDir()
			fsys := mountCut(t, mnt, start)
			data := filepath.Join(mnt, "data")
			p := startServer(t, data)
			all := map[string][]string{}
			hist := map[string]*history{}
			for _, u := range users {
				for i := range 200 {
					all[u] = append(all[u], fmt.Sprintf("%s-%d", u, i))
				}
				hist[u] = &history{acked: map[string]int64{}}
			}
			toks := map[string]string{}
			for _, u := range users {
				toks[u] = token(t, p.url, u)
			}
			// The power fails at a random write, truncate or fsync of the
			// burst (about cutOps of them in a burst on this machine), or at
			// its end if the burst needed fewer.
			cutAt := 1 + rng.IntN(cutOps)
			outcome := fsys.CutAfter(cutAt, rng)
			var wg sync.WaitGroup
			for _, u := range users {
				wg.Add(1)
				go func() {
					defer wg.Done()
					burst(t, p.url, toks[u], "power", all[u], hist[u], nil)
				}()
			}
			sent := make(chan struct{})
			go func() { wg.Wait(); close(sent) }()
			var cut CutOutcome
			select {
			case cut = <-outcome:
			case <-sent:
				select {
				case cut = <-outcome:
				default:
					tree, rep := fsys.Cut(rng)
					cut = CutOutcome{Tree: tree, Report: rep}
					t.Logf("the burst ended before the cut at operation %d", cutAt)
				}
			}
			survivor, rep := cut.Tree, cut.Report
			ackedAtCut := acked(hist) // acks read after the cut were committed before it
			p.cmd.Process.Kill()
			p.wait()
			wg.Wait()
			if err := fsys.Unmount(); err != nil {
				t.Fatalf("unmount after the cut: %v", err)
			}

			// The survivor is checked in a copy on the real disk (see
			// cutfs.Tree.WriteTo), and the server restarts on it in cutfs.
			inspect := t.TempDir()
			if err := survivor.WriteTo(inspect); err != nil {
				t.Fatal(err)
			}
			integrityCheck(t, filepath.Join(inspect, "data"))
			indexSound(t, filepath.Join(inspect, "data"))
			mnt2 := t.TempDir()
			mountCut(t, mnt2, survivor)
			p2 := startServer(t, filepath.Join(mnt2, "data"))
			prof := token(t, p2.url, "prof")
			// What survived, before anything is resent: every acked message once,
			// at the seq its ack gave.
			msgs := readAll(t, p2.url, prof)
			seen := map[string]int{}
			for i, m := range msgs {
				if m.Seq != int64(i+1) {
					t.Fatalf("seqs not contiguous after the cut: %d at position %d", m.Seq, i)
				}
				seen[m.ClientID]++
			}
			for _, u := range users {
				for id, seq := range hist[u].acked {
					if seen[id] != 1 || msgs[seq-1].ClientID != id {
						t.Fatalf("acked %s (seq %d) stored %d times after the cut", id, seq, seen[id])
					}
				}
			}
			for id, n := range seen {
				if n != 1 {
					t.Fatalf("%s stored %d times", id, n)
				}
			}
			// Resend everything with the same client_ids: nothing twice, and the
			// acked ones keep their seqs.
			for _, u := range users {
				tok := token(t, p2.url, u)
				wg.Add(1)
				go func() {
					defer wg.Done()
					h := &history{acked: map[string]int64{}}
					burst(t, p2.url, tok, "power", all[u], h, nil)
					for id, seq := range hist[u].acked {
						if h.acked[id] != seq {
							t.Errorf("%s acked with seq %d before the cut, %d after", id, seq, h.acked[id])
						}
					}
					hist[u].mu.Lock()
					for id, seq := range h.acked {
						hist[u].acked[id] = seq
					}
					hist[u].mu.Unlock()
				}()
			}
			wg.Wait()
			checkSet(t, readAll(t, p2.url, prof), users, all, hist)
			st := fsys.Stats
			t.Logf("cut at operation %d (%d writes, %d truncates, %d fsyncs, %d directory fsyncs before it): %d of %d unsynced writes reached the disk, %d torn; %d acks before the cut, %d messages survived",
				cutAt, st.Writes, st.Truncates, st.Fsyncs, st.DirFsyncs, rep.Kept, rep.PendingWrites, rep.Torn, ackedAtCut, len(msgs))
		})
	}
}

// mountCut mounts a cutfs at dir for the test; it is unmounted after the
// test's server has been killed (cleanups run last-registered first).
func mountCut(t *testing.T, dir string, tree *cutfs.Tree) *cutfs.FS {
	t.Helper()
	fsys, err := cutfs.Mount(dir, tree)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Unmount() })
	return fsys
}

func acked(hist map[string]*history) int {
	n := 0
	for _, h := range hist {
		h.mu.Lock()
		n += len(h.acked)
		h.mu.Unlock()
	}
	return n
}

// indexSound checks the full-text index after the cut: internally consistent,
// and holding exactly the messages up to its progress mark.
func indexSound(t *testing.T, data string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "teamchat.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')`); err != nil {
		t.Fatalf("full-text index after the cut: %v", err)
	}
	var mark, indexed, want int64
	if err := db.QueryRow(`SELECT last_id FROM fts_progress`).Scan(&mark); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'power'`).Scan(&indexed); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM messages WHERE id <= ? AND body LIKE 'power %'`, mark).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if indexed != want {
		t.Fatalf("full-text index holds %d messages, %d are at or below its mark %d", indexed, want, mark)
	}
}
