package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// `teamchat export --participation` and transcript exports give the same bytes
// as the REST endpoints for the same data (issue 6).

func getFile(t *testing.T, base, tok, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
	}
	return b
}

func exportOut(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"export"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("export %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

func TestExportParticipationMatchesREST(t *testing.T) {
	data := t.TempDir()
	addUser(t, data, "prof", "admin")
	addUser(t, data, "ann", "user")
	addUser(t, data, "bob", "user")
	addUser(t, data, "cat", "user") // never writes
	p := startServer(t, data)
	prof := token(t, p.url, "prof")
	for _, u := range []struct {
		name string
		ids  []string
		body string
	}{{"ann", []string{"a1", "a2", "a3"}, `=SUM(A1) "quoted", words`}, {"bob", []string{"b1", "b2"}, "-two words"}, {"prof", []string{"p1"}, "admin"}} {
		h := &history{acked: map[string]int64{}}
		burst(t, p.url, token(t, p.url, u.name), u.body, u.ids, h, nil)
		if len(h.acked) != len(u.ids) {
			t.Fatalf("%s: %d of %d acked", u.name, len(h.acked), len(u.ids))
		}
	}

	rest := getFile(t, p.url, prof, "/api/v1/participation?format=csv")
	cli := exportOut(t, "--data", data, "--participation", "--format", "csv")
	if !bytes.Equal(rest, cli) {
		t.Fatalf("participation csv differs:\nREST:\n%s\nCLI:\n%s", rest, cli)
	}
	lines := strings.Split(strings.TrimSpace(string(cli)), "\n")
	if len(lines) != 4 || !strings.Contains(lines[1], ",ann,ann,user,3,12,1,") || !strings.Contains(lines[2], ",bob,bob,user,2,6,1,") ||
		!strings.HasSuffix(lines[3], ",cat,cat,user,0,0,0,,,0,0,0") {
		t.Fatalf("participation csv:\n%s", cli)
	}
	if !bytes.Equal(getFile(t, p.url, prof, "/api/v1/participation?format=json"), exportOut(t, "--data", data, "--participation", "--format", "json")) {
		t.Fatal("participation json differs")
	}

	// With a time range that keeps everything and one that keeps nothing.
	for _, q := range []string{"since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00Z", "until=2000-01-01T00:00:00Z"} {
		args := []string{"--data", data, "--participation", "--format", "csv"}
		for _, kv := range strings.Split(q, "&") {
			k, v, _ := strings.Cut(kv, "=")
			args = append(args, "--"+k, v)
		}
		if r, c := getFile(t, p.url, prof, "/api/v1/participation?format=csv&"+q), exportOut(t, args...); !bytes.Equal(r, c) {
			t.Fatalf("%s: participation csv differs:\n%s\n%s", q, r, c)
		}
	}

	// Transcripts: CSV is the same bytes; HTML and JSON differ only in the export time.
	path := "/api/v1/conversations/1/transcript?format="
	if r, c := getFile(t, p.url, prof, path+"csv"), exportOut(t, "--data", data, "--conversation", "1", "--format", "csv"); !bytes.Equal(r, c) {
		t.Fatalf("transcript csv differs:\n%s\n%s", r, c)
	}
	if r, c := getFile(t, p.url, prof, path+"csv&since=2000-01-01T00:00:00Z"), exportOut(t, "--data", data, "--conversation", "1", "--format", "csv", "--since", "2000-01-01T00:00:00Z"); !bytes.Equal(r, c) {
		t.Fatalf("transcript csv (since) differs:\n%s\n%s", r, c)
	}
	exported := regexp.MustCompile(`exported \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Za-z0-9+-]+|"exported_at": "[^"]+"`)
	for _, f := range []string{"html", "json"} {
		args := []string{"--data", data, "--conversation", "1", "--format", f}
		if f == "json" {
			args = append(args, "--since", "2000-01-01T00:00:00Z")
			f += "&since=2000-01-01T00:00:00Z"
		}
		r := exported.ReplaceAll(getFile(t, p.url, prof, path+f), nil)
		c := exported.ReplaceAll(exportOut(t, args...), nil)
		if !bytes.Equal(r, c) || bytes.Count(r, []byte("quoted")) != 3 {
			t.Fatalf("transcript %s differs:\n%s\n%s", f, r, c)
		}
	}
	// Usage errors.
	for _, args := range [][]string{
		{"--participation", "--format", "html"},
		{"--participation", "--format", "csv", "--conversation", "1"},
		{"--format", "html"},
		{"--format", "csv", "--since", "2000-01-01T00:00:00Z"},
		{"--participation", "--format", "csv", "--since", "yesterday"},
	} {
		cmd := exec.Command(binPath, append([]string{"export", "--data", data}, args...)...)
		if out, err := cmd.CombinedOutput(); err == nil || cmd.ProcessState.ExitCode() != 2 {
			t.Errorf("export %v: %v\n%s", args, err, out)
		}
	}
}

// postJSON sends a JSON request and returns the decoded answer, failing unless it is want.
func postJSON(t *testing.T, base, tok, path, body string, want int) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out map[string]any
	if res.StatusCode != want || json.Unmarshal(b, &out) != nil {
		t.Fatalf("POST %s: %d %s", path, res.StatusCode, b)
	}
	return out
}

// TestExportSessionTranscriptMatchesREST: `teamchat export --session ID`
// without --conversation writes GET /sessions/{id}/transcript.
func TestExportSessionTranscriptMatchesREST(t *testing.T) {
	data := t.TempDir()
	addUser(t, data, "prof", "admin")
	addUser(t, data, "ann", "user")
	p := startServer(t, data)
	prof, ann := token(t, p.url, "prof"), token(t, p.url, "ann")
	g := int64(postJSON(t, p.url, ann, "/api/v1/conversations", `{"name":"=Team"}`, 201)["id"].(float64))
	convs := []int64{1, g}
	var last int64 // unix ms of the last stored time: each step in its own millisecond
	step := func(out map[string]any, field string) map[string]any {
		tm, _ := time.Parse(time.RFC3339Nano, out[field].(string))
		last = tm.UnixMilli()
		for time.Now().UnixMilli() <= last {
			time.Sleep(time.Millisecond)
		}
		return out
	}
	post := func(tok string, conv int64, body string) {
		step(postJSON(t, p.url, tok, fmt.Sprintf("/api/v1/conversations/%d/messages", conv), fmt.Sprintf(`{"body":%q}`, body), 201), "created_at")
	}
	for _, c := range convs {
		post(ann, c, "before")
	}
	sess := int64(step(postJSON(t, p.url, prof, "/api/v1/sessions", `{"name":"Lecture 1"}`, 201), "started_at")["id"].(float64))
	for _, c := range convs {
		post(ann, c, `during, "quoted"`)
		post(prof, c, "-during <b>")
	}
	step(postJSON(t, p.url, prof, fmt.Sprintf("/api/v1/sessions/%d/end", sess), "", 200), "ended_at")
	for _, c := range convs {
		post(ann, c, "after")
	}

	id := strconv.FormatInt(sess, 10)
	path := "/api/v1/sessions/" + id + "/transcript?format="
	rest := getFile(t, p.url, prof, path+"csv")
	if cli := exportOut(t, "--data", data, "--session", id, "--format", "csv"); !bytes.Equal(rest, cli) {
		t.Fatalf("session transcript csv differs:\nREST:\n%s\nCLI:\n%s", rest, cli)
	}
	if n := bytes.Count(rest, []byte("during")); n != 4 || bytes.Contains(rest, []byte("before")) || bytes.Contains(rest, []byte("after")) ||
		!bytes.Contains(rest, []byte(fmt.Sprintf("\n%d,'=Team,", g))) {
		t.Fatalf("session transcript csv:\n%s", rest)
	}
	out := filepath.Join(t.TempDir(), "session.csv")
	exportOut(t, "--data", data, "--session", id, "--format", "csv", "--out", out)
	if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, rest) {
		t.Fatalf("--out: %v\n%s", err, b)
	}
	exported := regexp.MustCompile(`exported \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Za-z0-9+-]+|"exported_at": "[^"]+"`)
	for _, f := range []string{"html", "json"} {
		r := exported.ReplaceAll(getFile(t, p.url, prof, path+f), nil)
		c := exported.ReplaceAll(exportOut(t, "--data", data, "--session", id, "--format", f), nil)
		if !bytes.Equal(r, c) || bytes.Count(r, []byte("quoted")) != 2 {
			t.Fatalf("session transcript %s differs:\n%s\n%s", f, r, c)
		}
	}
	// The per-conversation exports are unchanged; usage errors still exit 2.
	if r, c := getFile(t, p.url, prof, fmt.Sprintf("/api/v1/conversations/%d/transcript?format=csv&session_id=%s", g, id)),
		exportOut(t, "--data", data, "--conversation", strconv.FormatInt(g, 10), "--session", id, "--format", "csv"); !bytes.Equal(r, c) || bytes.Count(r, []byte("during")) != 2 {
		t.Fatalf("conversation transcript with --session:\n%s\n%s", r, c)
	}
	for _, args := range [][]string{
		{"--session", id, "--format", "pdf"},
		{"--session", id, "--format", "csv", "--since", "2000-01-01T00:00:00Z"},
		{"--session", "-1", "--format", "csv"},
	} {
		cmd := exec.Command(binPath, append([]string{"export", "--data", data}, args...)...)
		if out, err := cmd.CombinedOutput(); err == nil || cmd.ProcessState.ExitCode() != 2 {
			t.Errorf("export %v: %v\n%s", args, err, out)
		}
	}
	cmd := exec.Command(binPath, "export", "--data", data, "--session", "4242", "--format", "csv")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "not found") {
		t.Errorf("unknown session: %v\n%s", err, out)
	}
}
