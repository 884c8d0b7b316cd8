package api_test

import (
	"encoding/csv"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"teamchat/server/servertest"
)

// GET /sessions/{id}/transcript: every conversation's messages inside a class
// session's window, grouped by conversation, checked row by row against what
// GET …/messages answers and against the session_id filter of the
// conversation transcript.

func sessionTranscriptPath(id int64, format string) string {
	return fmt.Sprintf("/api/v1/sessions/%d/transcript?format=%s", id, format)
}

// sessionConv is one conversation of a session transcript, as JSON.
type sessionConv struct {
	Conversation struct {
		ID      int64            `json:"id"`
		Name    string           `json:"name"`
		Members []map[string]any `json:"members"`
	} `json:"conversation"`
	Messages []map[string]any `json:"messages"`
}

type sessionTr struct {
	Session struct {
		ID        int64   `json:"id"`
		Name      string  `json:"name"`
		StartedAt string  `json:"started_at"`
		EndedAt   *string `json:"ended_at"`
	} `json:"session"`
	ExportedAt    string        `json:"exported_at"`
	Conversations []sessionConv `json:"conversations"`
}

// expectedSession is, per conversation with messages in [since, until), the
// messages as GET …/messages gives them (raw and decoded), in id order.
type expectedConv struct {
	id   int64
	name string
	raw  []map[string]any
	msgs []storedMsg
}

func expectSession(t *testing.T, admin *servertest.Client, convs []int64, since, until string) []expectedConv {
	t.Helper()
	var out []expectedConv
	for _, conv := range convs {
		raw, msgs := exportedMsgs(t, admin, conv)
		e := expectedConv{id: conv, name: admin.Must(200, "GET", convPath(conv), nil).JSON()["name"].(string)}
		for i, m := range msgs {
			if inRange(m.CreatedAt, since, until) {
				e.raw, e.msgs = append(e.raw, raw[i]), append(e.msgs, m)
			}
		}
		if len(e.msgs) > 0 {
			out = append(out, e)
		}
	}
	return out
}

func csvSafeCell(s string) string {
	if s != "" && strings.ContainsAny(s[:1], "=+-@\t\r") {
		return "'" + s
	}
	return s
}

// checkSessionTranscript checks the three formats of a session's transcript
// against want, and the CSV of each conversation against the conversation
// transcript with session_id.
func checkSessionTranscript(t *testing.T, admin *servertest.Client, id int64, want []expectedConv) {
	t.Helper()
	total := 0
	for _, e := range want {
		total += len(e.msgs)
	}

	// JSON: grouped by conversation in id order; messages exactly as GET …/messages.
	r := admin.Must(200, "GET", sessionTranscriptPath(id, "json"), nil)
	if ct, cd := r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"); !strings.HasPrefix(ct, "application/json") ||
		cd != fmt.Sprintf(`attachment; filename="session-%d-transcript.json"`, id) {
		t.Errorf("json headers %q %q", ct, cd)
	}
	var tr sessionTr
	r.Decode(t, &tr)
	if tr.Session.ID != id || tr.ExportedAt == "" || tr.Conversations == nil {
		t.Errorf("session transcript head: %+v", tr)
	}
	if len(tr.Conversations) != len(want) {
		t.Fatalf("%d conversations, want %d: %+v", len(tr.Conversations), len(want), tr.Conversations)
	}
	for i, e := range want {
		got := tr.Conversations[i]
		if got.Conversation.ID != e.id || got.Conversation.Name != e.name || len(got.Conversation.Members) == 0 {
			t.Errorf("conversation %d: %+v, want %d %q with members", i, got.Conversation, e.id, e.name)
		}
		if !reflect.DeepEqual(got.Messages, e.raw) {
			t.Errorf("conversation %d messages:\n%v\nwant\n%v", e.id, got.Messages, e.raw)
		}
	}

	// CSV: the conversation transcript's columns, one row per message.
	r = admin.Must(200, "GET", sessionTranscriptPath(id, "csv"), nil)
	if ct, cd := r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"); !strings.HasPrefix(ct, "text/csv") ||
		cd != fmt.Sprintf(`attachment; filename="session-%d-transcript.csv"`, id) {
		t.Errorf("csv headers %q %q", ct, cd)
	}
	recs, err := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
	if err != nil || len(recs) != total+1 {
		t.Fatalf("csv (%v): %d rows, want %d\n%s", err, len(recs)-1, total, r.Body)
	}
	if strings.Join(recs[0], ",") != "conversation_id,conversation_name,seq,message_id,created_at,sender_id,sender_username,sender_display_name,sender_role,body,deleted,edited_at,reply_to_seq,attachments,reactions" {
		t.Errorf("csv header %v", recs[0])
	}
	row := 1
	for _, e := range want {
		for _, m := range e.msgs {
			w := []string{strconv.FormatInt(e.id, 10), csvSafeCell(e.name), strconv.FormatInt(m.Seq, 10), strconv.FormatInt(m.ID, 10), m.CreatedAt,
				strconv.FormatInt(m.Sender.ID, 10), m.Sender.Username, csvSafeCell(m.Sender.DisplayName), m.Sender.Role, csvSafeCell(m.Body), strconv.FormatBool(m.Deleted),
				"", "", "", ""} // edited_at, reply_to_seq, attachments, reactions: none in this class
			if !reflect.DeepEqual(recs[row], w) {
				t.Errorf("csv row %d: %q, want %q", row, recs[row], w)
			}
			row++
		}
		// The same window as session_id on the conversation transcript.
		one := admin.Must(200, "GET", fmt.Sprintf("/api/v1/conversations/%d/transcript?format=csv&session_id=%d", e.id, id), nil).Body
		_, rows, _ := strings.Cut(string(one), "\n")
		if !strings.Contains(string(r.Body), "\n"+rows) || strings.Count(rows, "\n") < len(e.msgs) {
			t.Errorf("conversation %d: session_id transcript rows not in the session transcript:\n%s\nvs\n%s", e.id, rows, r.Body)
		}
	}

	// HTML: one page, a heading per conversation, every message; deleted ones as placeholders.
	r = admin.Must(200, "GET", sessionTranscriptPath(id, "html"), nil)
	if ct, cd := r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"); !strings.HasPrefix(ct, "text/html") ||
		cd != fmt.Sprintf(`attachment; filename="session-%d-transcript.html"`, id) {
		t.Errorf("html headers %q %q", ct, cd)
	}
	page := string(r.Body)
	if n := strings.Count(page, "<li"); n != total {
		t.Errorf("html has %d messages, want %d", n, total)
	}
	if n := strings.Count(page, "<h2>"); n != len(want) {
		t.Errorf("html has %d headings, want %d", n, len(want))
	}
	last := 0
	for _, e := range want {
		at := strings.Index(page, fmt.Sprintf(`<section id="c%d">`, e.id))
		if at < last {
			t.Errorf("conversation %d out of order or missing in the page", e.id)
		}
		last = at
		for _, m := range e.msgs {
			li := fmt.Sprintf(`id="c%d-m%d"><div class="head">`, e.id, m.Seq)
			i := strings.Index(page, li)
			if i < at {
				t.Errorf("message %d of %d not in its section", m.Seq, e.id)
				continue
			}
			item, _, _ := strings.Cut(page[i:], "</li>")
			if m.Deleted != strings.HasSuffix(item, `<div class="body">[deleted]</div>`) {
				t.Errorf("message %d of %d (deleted %v): %s", m.Seq, e.id, m.Deleted, item)
			}
		}
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "<link") || strings.Contains(page, `src="`) || !strings.Contains(page, "@media print") {
		t.Errorf("page is not self-contained, escaped and printable:\n%s", page)
	}
	if total == 0 && !strings.Contains(page, "No messages.") {
		t.Errorf("empty session page:\n%s", page)
	}
}

func TestSessionTranscript(t *testing.T) {
	c := newExportClass(t) // its messages are all "before"
	const script = `<script>alert(1)</script>`
	gs := idOf(c.admin.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": script, "member_ids": []int64{c.ids["ann"]}}))
	convs := append(c.convs(), gs)

	// Each message, start and end in its own millisecond: the window is by time.
	var last time.Time
	next := func() {
		servertest.Eventually(t, "the next millisecond", func() bool { return time.Now().UnixMilli() > last.UnixMilli() })
	}
	stamp := func(r servertest.Resp, field string) servertest.Resp {
		last, _ = time.Parse(time.RFC3339Nano, r.JSON()[field].(string))
		return r
	}
	post := func(cl *servertest.Client, conv int64, body string) int64 {
		next()
		return idOf(stamp(cl.Must(201, "POST", msgsPath(conv), map[string]any{"body": body}), "created_at"))
	}
	post(c.ann, c.g1, "before g1")
	post(c.bob, c.g2, "before g2")
	post(c.ann, gs, "before script")

	endActiveClassSession(t, c.admin)
	next()
	sess := stamp(c.admin.Must(201, "POST", "/api/v1/sessions", map[string]any{"name": "Lecture 5"}), "started_at").JSON()
	id := int64(sess["id"].(float64))
	// Conversation order is by id, not by time: g2 speaks first.
	during := map[int64]bool{}
	var deleted int64
	for _, m := range []struct {
		cl   *servertest.Client
		conv int64
		body string
	}{
		{c.bob, c.g2, "during g2 first"},
		{c.ann, c.g1, "during g1 =1+1"},
		{c.ann, gs, script + " during"},
		{c.admin, c.g1, "during admin"},
		{c.guest, 1, "during General"},
		{c.ann, c.g2, "during, then deleted"},
		{c.owner, c.g1, "during g1 last"},
	} {
		mid := post(m.cl, m.conv, m.body)
		during[mid] = true
		if m.body == "during, then deleted" {
			deleted = mid
		}
	}
	c.ann.Must(204, "DELETE", fmt.Sprintf("/api/v1/messages/%d", deleted), nil)
	next()
	ended := stamp(c.admin.Must(200, "POST", fmt.Sprintf("/api/v1/sessions/%d/end", id), nil), "ended_at").JSON()
	post(c.ann, c.g1, "after g1")
	post(c.bob, c.g2, "after g2")
	post(c.ann, gs, "after script")

	until := time.UnixMilli(func() int64 {
		e, _ := time.Parse(time.RFC3339Nano, ended["ended_at"].(string))
		return e.UnixMilli() + 1
	}()).UTC().Format("2006-01-02T15:04:05.000Z07:00")
	want := expectSession(t, c.admin, convs, sess["started_at"].(string), until)
	// Exactly the "during" messages, grouped by conversation in id order.
	var got []int64
	var gotConvs []int64
	for _, e := range want {
		gotConvs = append(gotConvs, e.id)
		for _, m := range e.msgs {
			got = append(got, m.ID)
			if !during[m.ID] {
				t.Errorf("message %d %q is not from the session", m.ID, m.Body)
			}
			if m.ID == deleted && (!m.Deleted || m.Body != "") {
				t.Errorf("deleted message: %+v", m)
			}
		}
	}
	if len(got) != len(during) || !reflect.DeepEqual(gotConvs, []int64{1, c.g1, c.g2, gs}) {
		t.Fatalf("expected %d messages in %v, want %d in [1 %d %d %d]", len(got), gotConvs, len(during), c.g1, c.g2, gs)
	}
	checkSessionTranscript(t, c.admin, id, want)
	var tr sessionTr
	c.admin.Must(200, "GET", sessionTranscriptPath(id, ""), nil).Decode(t, &tr) // json by default
	if tr.Session.Name != "Lecture 5" || tr.Session.StartedAt != sess["started_at"] || tr.Session.EndedAt == nil || *tr.Session.EndedAt != ended["ended_at"] {
		t.Errorf("session: %+v", tr.Session)
	}

	// The page escapes user strings: the conversation heading and the body.
	page := string(c.admin.Must(200, "GET", sessionTranscriptPath(id, "html"), nil).Body)
	if strings.Contains(page, script) || strings.Count(page, "&lt;script&gt;alert(1)&lt;/script&gt;") < 2 ||
		!strings.Contains(page, "<h2>&lt;script&gt;alert(1)&lt;/script&gt;</h2>") || !strings.Contains(page, "[deleted]") {
		t.Errorf("page:\n%s", page)
	}

	// A running session is open-ended; a session without messages is empty.
	next()
	rs := stamp(c.admin.Must(201, "POST", "/api/v1/sessions", map[string]any{"name": "Running"}), "started_at").JSON()
	running := int64(rs["id"].(float64))
	checkSessionTranscript(t, c.admin, running, nil)
	if r := c.admin.Must(200, "GET", sessionTranscriptPath(running, "csv"), nil); strings.Count(string(r.Body), "\n") != 1 {
		t.Errorf("empty csv:\n%s", r.Body)
	}
	post(c.bob, c.g2, "in the running session")
	if w := expectSession(t, c.admin, convs, rs["started_at"].(string), ""); len(w) != 1 || len(w[0].msgs) != 1 {
		t.Errorf("running session: %+v", w)
	} else {
		checkSessionTranscript(t, c.admin, running, w)
	}
	checkSessionTranscript(t, c.admin, id, want) // the ended one did not change

	// Admins only; unknown sessions 404; bad format 400.
	for _, f := range []string{"json", "csv", "html"} {
		for _, x := range []struct {
			cl   *servertest.Client
			want int
		}{{c.owner, 403}, {c.ann, 403}, {c.bob, 403}, {c.out, 403}, {c.guest, 403}, {c.env.Anon(), 401}} {
			if r := x.cl.Do("GET", sessionTranscriptPath(id, f), nil); r.Status != x.want {
				t.Errorf("%s session transcript: %d, want %d: %s", f, r.Status, x.want, r.Body)
			}
		}
	}
	if r := c.owner.Do("GET", sessionTranscriptPath(424242, "csv"), nil); r.Status != 403 {
		t.Errorf("non-admin, unknown session: %d %s", r.Status, r.Body)
	}
	for _, p := range []string{sessionTranscriptPath(424242, "csv"), "/api/v1/sessions/0/transcript", "/api/v1/sessions/x/transcript"} {
		if r := c.admin.Do("GET", p, nil); r.Status != 404 || r.ErrCode() != "not_found" {
			t.Errorf("%s: %d %s", p, r.Status, r.Body)
		}
	}
	for _, f := range []string{"pdf", "xml"} {
		if r := c.admin.Do("GET", sessionTranscriptPath(id, f), nil); r.Status != 400 || r.ErrCode() != "bad_request" {
			t.Errorf("format %s: %d %s", f, r.Status, r.Body)
		}
	}
}
