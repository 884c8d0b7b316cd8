package api_test

import (
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"teamchat/server"
	"teamchat/server/servertest"

	_ "modernc.org/sqlite"
)

// Exports (issue 6, oversight and grading): participation and transcripts,
// checked row by row against what GET …/messages answers.

// storedMsg is a message as GET …/messages answers it.
type storedMsg struct {
	ID             int64 `json:"id"`
	ConversationID int64 `json:"conversation_id"`
	Seq            int64 `json:"seq"`
	Sender         struct {
		ID          int64  `json:"id"`
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
		Role        string `json:"role"`
	} `json:"sender"`
	Body      string `json:"body"`
	CreatedAt string `json:"created_at"`
	Deleted   bool   `json:"deleted"`
}

// allMessages reads a conversation's messages page by page, raw and decoded.
func exportedMsgs(t *testing.T, c *servertest.Client, conv int64) ([]map[string]any, []storedMsg) {
	t.Helper()
	var raw []map[string]any
	var out []storedMsg
	after := int64(0)
	for {
		r := c.Must(200, "GET", fmt.Sprintf("%s?after_seq=%d&limit=200", msgsPath(conv), after), nil)
		var page struct {
			Messages []json.RawMessage `json:"messages"`
			HasMore  bool              `json:"has_more"`
		}
		r.Decode(t, &page)
		for _, m := range page.Messages {
			var mm map[string]any
			var sm storedMsg
			if json.Unmarshal(m, &mm) != nil || json.Unmarshal(m, &sm) != nil {
				t.Fatalf("message %s", m)
			}
			raw, out = append(raw, mm), append(out, sm)
			after = sm.Seq
		}
		if !page.HasMore {
			return raw, out
		}
	}
}

func inRange(created, since, until string) bool {
	ct, _ := time.Parse(time.RFC3339Nano, created)
	if since != "" {
		if s, _ := time.Parse(time.RFC3339Nano, since); ct.Before(s) {
			return false
		}
	}
	if until != "" {
		if u, _ := time.Parse(time.RFC3339Nano, until); !ct.Before(u) {
			return false
		}
	}
	return true
}

type partConv struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Messages int    `json:"messages"`
}

type partRow struct {
	User struct {
		ID          int64  `json:"id"`
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
		Role        string `json:"role"`
		Disabled    bool   `json:"disabled"`
	} `json:"user"`
	Messages      int        `json:"messages"`
	Words         int        `json:"words"`
	Conversations []partConv `json:"conversations"`
	FirstAt       *string    `json:"first_at"`
	LastAt        *string    `json:"last_at"`
}

type partReport struct {
	Since *string   `json:"since"`
	Until *string   `json:"until"`
	Rows  []partRow `json:"rows"`
}

// expectParticipation computes the report from the stored messages.
func expectParticipation(t *testing.T, admin *servertest.Client, convs []int64, since, until string) map[int64]*partRow {
	t.Helper()
	want := map[int64]*partRow{}
	for _, conv := range convs {
		name := admin.Must(200, "GET", convPath(conv), nil).JSON()["name"].(string)
		_, msgs := exportedMsgs(t, admin, conv)
		for _, m := range msgs {
			if m.Deleted || m.Sender.Role == "admin" || !inRange(m.CreatedAt, since, until) {
				continue
			}
			row := want[m.Sender.ID]
			if row == nil {
				row = &partRow{}
				want[m.Sender.ID] = row
			}
			row.Messages++
			row.Words += len(strings.Fields(m.Body))
			if n := len(row.Conversations); n == 0 || row.Conversations[n-1].ID != conv {
				row.Conversations = append(row.Conversations, partConv{ID: conv, Name: name})
			}
			row.Conversations[len(row.Conversations)-1].Messages++
			if row.FirstAt == nil || m.CreatedAt < *row.FirstAt {
				row.FirstAt = &m.CreatedAt
			}
			if row.LastAt == nil || m.CreatedAt > *row.LastAt {
				row.LastAt = &m.CreatedAt
			}
		}
	}
	return want
}

// exportClass: an admin, owner (owns g1), members, a guest, a disabled user,
// with messages of several words in two groups, one deleted.
type exportClass struct {
	env                         *servertest.Env
	admin, owner, ann, bob, out *servertest.Client
	guest                       *servertest.Client
	g1, g2, g3                  int64
	disabledID                  int64
	ids                         map[string]int64
}

func newExportClass(t *testing.T) *exportClass {
	t.Helper()
	env := servertest.Start(t)
	c := &exportClass{env: env, ids: map[string]int64{}}
	c.admin = env.AddUser("prof", "admin")
	c.owner = env.AddUser("owner", "user")
	c.ann = env.AddUser("ann", "user")
	c.bob = env.AddUser("bob", "user")
	c.out = env.AddUser("outsider", "user")
	dis := env.AddUser("dis", "user")
	// Display names decide the order; one is a spreadsheet formula.
	for _, x := range []struct {
		c    *servertest.Client
		name string
	}{{c.owner, "Olga Owner"}, {c.ann, "=HYPERLINK(\"http://x\")"}, {c.bob, "bob lowercase"}, {c.out, "Zed Outsider"}, {dis, "Dora Disabled"}} {
		x.c.Must(200, "PATCH", "/api/v1/me", map[string]any{"display_name": x.name})
	}
	code := c.admin.Must(200, "GET", "/api/v1/settings", nil).JSON()["join_code"].(string)
	c.guest = env.Anon()
	c.guest.Token = c.guest.Must(201, "POST", "/api/v1/auth/guest", map[string]any{"display_name": "@Guest Gina", "join_code": code}).JSON()["access_token"].(string)
	for n, cl := range map[string]*servertest.Client{"owner": c.owner, "ann": c.ann, "bob": c.bob, "out": c.out, "dis": dis, "guest": c.guest, "admin": c.admin} {
		c.ids[n] = cl.ID()
	}
	c.disabledID = c.ids["dis"]
	c.g1 = idOf(c.owner.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "-Group One", "member_ids": []int64{c.ids["ann"], c.ids["bob"], c.ids["dis"]}}))
	c.g2 = idOf(c.bob.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Group Two", "member_ids": []int64{c.ids["ann"]}}))
	c.g3 = idOf(c.out.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Quiet", "member_ids": []int64{}}))
	// Each message in its own millisecond, so the time filters have something to cut.
	var last time.Time
	post := func(cl *servertest.Client, conv int64, body string) int64 {
		servertest.Eventually(t, "the next millisecond", func() bool { return time.Now().UnixMilli() > last.UnixMilli() })
		r := cl.Must(201, "POST", msgsPath(conv), map[string]any{"body": body})
		last, _ = time.Parse(time.RFC3339Nano, r.JSON()["created_at"].(string))
		return idOf(r)
	}
	post(c.ann, c.g1, "hello   there\tteam")
	post(c.bob, c.g1, "one")
	del := post(c.ann, c.g1, "a deleted message of six words")
	post(dis, c.g1, "before I was disabled")
	post(c.ann, c.g2, "=1+2 and\nnew line")
	post(c.bob, c.g2, "+ plus")
	post(c.owner, c.g1, "owner speaks")
	post(c.admin, c.g1, "the admin is not counted")
	post(c.guest, 1, "guest in General")
	post(c.ann, c.g1, "  spaced  out  ")
	c.ann.Must(204, "DELETE", fmt.Sprintf("/api/v1/messages/%d", del), nil)
	c.admin.Must(204, "DELETE", fmt.Sprintf("/api/v1/users/%d", c.disabledID), nil)
	return c
}

func (c *exportClass) convs() []int64 { return []int64{1, c.g1, c.g2, c.g3} }

func checkParticipation(t *testing.T, c *exportClass, since, until string) {
	t.Helper()
	q := url.Values{}
	if since != "" {
		q.Set("since", since)
	}
	if until != "" {
		q.Set("until", until)
	}
	r := c.admin.Must(200, "GET", "/api/v1/participation?"+q.Encode(), nil)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("participation json content type %q", ct)
	}
	var rep partReport
	r.Decode(t, &rep)
	if (since == "") != (rep.Since == nil) || (until == "") != (rep.Until == nil) {
		t.Errorf("since/until echoed as %v %v", rep.Since, rep.Until)
	}
	want := expectParticipation(t, c.admin, c.convs(), since, until)
	// Every non-admin account, admins never; ordered by display name.
	var names []string
	seen := map[int64]bool{}
	for _, row := range rep.Rows {
		if row.User.Role == "admin" {
			t.Errorf("admin in participation: %+v", row.User)
		}
		seen[row.User.ID] = true
		names = append(names, strings.ToLower(row.User.DisplayName))
		w := want[row.User.ID]
		if w == nil {
			w = &partRow{}
		}
		if w.Conversations == nil {
			w.Conversations = []partConv{}
		}
		if row.Messages != w.Messages || row.Words != w.Words || !reflect.DeepEqual(row.Conversations, w.Conversations) ||
			fmt.Sprint(deref(row.FirstAt)) != fmt.Sprint(deref(w.FirstAt)) || fmt.Sprint(deref(row.LastAt)) != fmt.Sprint(deref(w.LastAt)) {
			t.Errorf("row of %s: got %d msgs %d words %v %s..%s, want %d msgs %d words %v %s..%s", row.User.Username,
				row.Messages, row.Words, row.Conversations, deref(row.FirstAt), deref(row.LastAt),
				w.Messages, w.Words, w.Conversations, deref(w.FirstAt), deref(w.LastAt))
		}
		if row.User.ID == c.disabledID && !row.User.Disabled {
			t.Errorf("disabled user not shown as disabled: %+v", row.User)
		}
	}
	for _, n := range []string{"owner", "ann", "bob", "out", "dis", "guest"} {
		if !seen[c.ids[n]] {
			t.Errorf("%s missing from participation", n)
		}
	}
	if seen[c.ids["admin"]] || len(rep.Rows) != 6 {
		t.Errorf("rows: %d", len(rep.Rows))
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("rows not ordered by display name: %q", names)
	}

	// The CSV: same rows, formulas defused.
	r = c.admin.Must(200, "GET", "/api/v1/participation?format=csv&"+q.Encode(), nil)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("csv content type %q", ct)
	}
	if cd := r.Header.Get("Content-Disposition"); cd != `attachment; filename="participation.csv"` {
		t.Errorf("csv disposition %q", cd)
	}
	recs, err := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v\n%s", err, r.Body)
	}
	if strings.Join(recs[0], ",") != "user_id,username,display_name,role,messages,words,conversations,first_message_at,last_message_at,hands_raised,questions_asked,upvotes_given" {
		t.Errorf("csv header %v", recs[0])
	}
	if len(recs) != len(rep.Rows)+1 {
		t.Fatalf("csv has %d rows, json %d", len(recs)-1, len(rep.Rows))
	}
	for i, row := range rep.Rows {
		dn := row.User.DisplayName
		if strings.ContainsAny(dn[:1], "=+-@") {
			dn = "'" + dn
		}
		want := []string{strconv.FormatInt(row.User.ID, 10), row.User.Username, dn, row.User.Role,
			strconv.Itoa(row.Messages), strconv.Itoa(row.Words), strconv.Itoa(len(row.Conversations)), deref(row.FirstAt), deref(row.LastAt), "0", "0", "0"}
		if !reflect.DeepEqual(recs[i+1], want) {
			t.Errorf("csv row %d: %q, want %q", i+1, recs[i+1], want)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestParticipationExport(t *testing.T) {
	c := newExportClass(t)
	checkParticipation(t, c, "", "")
	// Spot checks against hand-counted values (the expectation above is computed).
	var rep partReport
	c.admin.Must(200, "GET", "/api/v1/participation", nil).Decode(t, &rep)
	byName := map[string]partRow{}
	for _, r := range rep.Rows {
		byName[r.User.Username] = r
	}
	if a := byName["ann"]; a.Messages != 3 || a.Words != 3+4+2 || len(a.Conversations) != 2 {
		t.Errorf("ann: %+v", a)
	}
	if o := byName["outsider"]; o.Messages != 0 || o.FirstAt != nil || o.LastAt != nil || len(o.Conversations) != 0 {
		t.Errorf("outsider: %+v", o)
	}
	if d := byName["dis"]; d.Messages != 1 || !d.User.Disabled {
		t.Errorf("disabled: %+v", d)
	}
	if ann := string(c.admin.Must(200, "GET", "/api/v1/participation?format=csv", nil).Body); !strings.Contains(ann, `'=HYPERLINK`) {
		t.Errorf("formula not defused:\n%s", ann)
	}

	// Time filters: cut at stored times, so ties are decided by what is stored.
	_, g1 := exportedMsgs(t, c.admin, c.g1)
	mid, last := g1[3].CreatedAt, g1[len(g1)-1].CreatedAt
	var cut partReport
	c.admin.Must(200, "GET", "/api/v1/participation?since="+url.QueryEscape(mid), nil).Decode(t, &cut)
	if total := func(p partReport) (n int) {
		for _, r := range p.Rows {
			n += r.Messages
		}
		return n
	}; total(cut) == 0 || total(cut) >= total(rep) {
		t.Errorf("since=%s kept %d of %d messages", mid, total(cut), total(rep))
	}
	checkParticipation(t, c, mid, "")
	checkParticipation(t, c, "", mid)
	checkParticipation(t, c, g1[1].CreatedAt, last)
	checkParticipation(t, c, "2000-01-01T00:00:00Z", "2000-01-02T00:00:00+02:00")

	// Only admins; bad parameters are 400.
	for _, cl := range []*servertest.Client{c.owner, c.ann, c.guest} {
		if r := cl.Do("GET", "/api/v1/participation?format=csv", nil); r.Status != 403 || r.ErrCode() != "forbidden" {
			t.Errorf("non-admin participation: %d %s", r.Status, r.Body)
		}
	}
	for _, q := range []string{"format=xml", "format=html", "since=yesterday", "until=2026-13-01T00:00:00Z", "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z"} {
		if r := c.admin.Do("GET", "/api/v1/participation?"+q, nil); r.Status != 400 || r.ErrCode() != "bad_request" {
			t.Errorf("%s: %d %s", q, r.Status, r.Body)
		}
	}
}

func TestTranscriptExport(t *testing.T) {
	c := newExportClass(t)
	path := func(conv int64, q string) string {
		return fmt.Sprintf("/api/v1/conversations/%d/transcript?%s", conv, q)
	}

	// Per role: admins and the owner; members 403, others 404.
	for _, f := range []string{"json", "csv", "html"} {
		c.admin.Must(200, "GET", path(c.g1, "format="+f), nil)
		c.owner.Must(200, "GET", path(c.g1, "format="+f), nil)
		for _, x := range []struct {
			cl   *servertest.Client
			want int
		}{{c.ann, 403}, {c.bob, 403}, {c.out, 404}, {c.guest, 404}, {c.env.Anon(), 401}} {
			if r := x.cl.Do("GET", path(c.g1, "format="+f), nil); r.Status != x.want {
				t.Errorf("%s transcript: %d, want %d: %s", f, r.Status, x.want, r.Body)
			}
		}
	}
	c.bob.Must(200, "GET", path(c.g2, ""), nil) // bob owns g2
	if r := c.admin.Do("GET", path(999999, ""), nil); r.Status != 404 {
		t.Errorf("missing conversation: %d", r.Status)
	}
	for _, q := range []string{"format=pdf", "since=now"} {
		if r := c.admin.Do("GET", path(c.g1, q), nil); r.Status != 400 {
			t.Errorf("%s: %d %s", q, r.Status, r.Body)
		}
	}

	raw, stored := exportedMsgs(t, c.admin, c.g1)
	check := func(since, until string) {
		t.Helper()
		q := url.Values{}
		if since != "" {
			q.Set("since", since)
		}
		if until != "" {
			q.Set("until", until)
		}
		var wantRaw []map[string]any
		var want []storedMsg
		for i, m := range stored {
			if inRange(m.CreatedAt, since, until) {
				wantRaw, want = append(wantRaw, raw[i]), append(want, m)
			}
		}
		// JSON: the messages exactly as GET …/messages gives them.
		r := c.owner.Must(200, "GET", path(c.g1, "format=json&"+q.Encode()), nil)
		if cd := r.Header.Get("Content-Disposition"); cd != fmt.Sprintf(`attachment; filename="transcript-%d.json"`, c.g1) {
			t.Errorf("json disposition %q", cd)
		}
		var tr struct {
			Conversation struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			} `json:"conversation"`
			ExportedAt string           `json:"exported_at"`
			Messages   []map[string]any `json:"messages"`
		}
		r.Decode(t, &tr)
		if tr.Conversation.ID != c.g1 || tr.Conversation.Name != "-Group One" || tr.ExportedAt == "" {
			t.Errorf("transcript head: %+v", tr)
		}
		if len(tr.Messages) != len(wantRaw) || (len(wantRaw) > 0 && !reflect.DeepEqual(tr.Messages, wantRaw)) {
			t.Errorf("transcript [%s, %s): %d messages, want %d\n%v\n%v", since, until, len(tr.Messages), len(wantRaw), tr.Messages, wantRaw)
		}
		// CSV: the columns of `teamchat export`, one row per message.
		r = c.admin.Must(200, "GET", path(c.g1, "format=csv&"+q.Encode()), nil)
		if ct, cd := r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"); !strings.HasPrefix(ct, "text/csv") ||
			cd != fmt.Sprintf(`attachment; filename="transcript-%d.csv"`, c.g1) {
			t.Errorf("csv headers %q %q", ct, cd)
		}
		recs, err := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
		if err != nil || len(recs) != len(want)+1 {
			t.Fatalf("csv (%v): %d rows, want %d", err, len(recs)-1, len(want))
		}
		if strings.Join(recs[0], ",") != "conversation_id,conversation_name,seq,message_id,created_at,sender_id,sender_username,sender_display_name,sender_role,body,deleted,edited_at,reply_to_seq,attachments,reactions" {
			t.Errorf("csv header %v", recs[0])
		}
		safe := func(s string) string {
			if s != "" && strings.ContainsAny(s[:1], "=+-@\t\r") {
				return "'" + s
			}
			return s
		}
		for i, m := range want {
			row := []string{strconv.FormatInt(c.g1, 10), "'-Group One", strconv.FormatInt(m.Seq, 10), strconv.FormatInt(m.ID, 10), m.CreatedAt,
				strconv.FormatInt(m.Sender.ID, 10), m.Sender.Username, safe(m.Sender.DisplayName), m.Sender.Role, safe(m.Body), strconv.FormatBool(m.Deleted),
				"", "", "", ""} // edited_at, reply_to_seq, attachments, reactions (TestTranscriptShowsEverydayFeatures)
			if !reflect.DeepEqual(recs[i+1], row) {
				t.Errorf("csv row %d: %q, want %q", i+1, recs[i+1], row)
			}
		}
		// HTML: every message with its sender; deleted ones as placeholders.
		r = c.admin.Must(200, "GET", path(c.g1, "format=html&"+q.Encode()), nil)
		page := string(r.Body)
		if n := strings.Count(page, "<li"); n != len(want) {
			t.Errorf("html has %d messages, want %d", n, len(want))
		}
		for _, m := range want {
			if m.Deleted {
				if !strings.Contains(page, fmt.Sprintf(`id="m%d"><div class="head">`, m.Seq)) || !strings.Contains(page, "[deleted]") {
					t.Errorf("deleted message %d not a placeholder", m.Seq)
				}
			}
		}
	}
	if len(stored) != 7 || !stored[2].Deleted || stored[2].Body != "" {
		t.Fatalf("stored g1: %+v", stored)
	}
	for i := 1; i < len(stored); i++ {
		if stored[i].CreatedAt <= stored[i-1].CreatedAt {
			t.Fatalf("messages share a millisecond: %s %s", stored[i-1].CreatedAt, stored[i].CreatedAt)
		}
	}
	check("", "")
	check(stored[3].CreatedAt, "")
	check("", stored[3].CreatedAt)
	check(stored[1].CreatedAt, stored[5].CreatedAt)
	check("2030-01-01T00:00:00Z", "")
}

func TestTranscriptHTMLEscapes(t *testing.T) {
	env := servertest.Start(t)
	admin := env.AddUser("prof", "admin")
	stu := env.AddUser("stu", "user")
	const script = `<script>alert(1)</script>`
	const img = `<img src=x onerror=alert(1)>`
	admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"name": script})
	stu.Must(200, "PATCH", "/api/v1/me", map[string]any{"display_name": img})
	conv := idOf(admin.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": script, "member_ids": []int64{stu.ID()}}))
	stu.Must(201, "POST", msgsPath(conv), map[string]any{"body": script + " and " + img + ` "quotes" & 'apos'`})
	admin.Must(201, "POST", msgsPath(conv), map[string]any{"body": `</style><script>x()</script>`})
	r := admin.Must(200, "GET", fmt.Sprintf("/api/v1/conversations/%d/transcript?format=html", conv), nil)
	page := string(r.Body)
	if ct, cd := r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"); !strings.HasPrefix(ct, "text/html") ||
		cd != fmt.Sprintf(`attachment; filename="transcript-%d.html"`, conv) {
		t.Errorf("headers %q %q", ct, cd)
	}
	for _, bad := range []string{script, img, "<script", "<img", "onerror=alert(1)>", "</style><script>"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q unescaped:\n%s", bad, page)
		}
	}
	escaped := "&lt;script&gt;alert(1)&lt;/script&gt;"
	if strings.Count(page, escaped) < 3 { // title, heading, class name, body
		t.Errorf("escaped payload missing:\n%s", page)
	}
	if !strings.Contains(page, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("escaped display name missing:\n%s", page)
	}
	if !strings.Contains(page, "<style>") || strings.Contains(page, "<link") || strings.Contains(page, "src=\"") || !strings.Contains(page, "@media print") {
		t.Errorf("page is not self-contained and printable:\n%s", page)
	}
	if !strings.Contains(page, "<title>") || !strings.Contains(page, "stu)") {
		t.Errorf("page lacks title or sender:\n%s", page)
	}
}

// TestExportsBySession: session_id stands for the class session's span. The
// session rows are written straight into the database, so this test does not
// depend on the sessions API; it is skipped on a schema without class sessions.
func TestExportsBySession(t *testing.T) {
	c := newExportClass(t)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(c.env.DataDir, server.DBFile)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'class_sessions'`).Scan(&n); err != nil || n == 0 {
		t.Skipf("no class_sessions table (%v)", err)
	}
	_, g1 := exportedMsgs(t, c.admin, c.g1)
	ms := func(s string) int64 { tm, _ := time.Parse(time.RFC3339Nano, s); return tm.UnixMilli() }
	// Session 1 ran from message 1 to message 4 of g1 (inclusive); session 2 is still open from message 5.
	if _, err := db.Exec(`INSERT INTO class_sessions (id, name, started_at, ended_at) VALUES (9001, 'Lecture 1', ?, ?)`, ms(g1[1].CreatedAt), ms(g1[4].CreatedAt)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO class_sessions (id, name, started_at) VALUES (9002, 'Lecture 2', ?)`, ms(g1[5].CreatedAt)); err != nil {
		t.Fatal(err)
	}
	untilOf := func(s string) string {
		return time.UnixMilli(ms(s) + 1).UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	for _, x := range []struct {
		id           int64
		since, until string
	}{{9001, g1[1].CreatedAt, untilOf(g1[4].CreatedAt)}, {9002, g1[5].CreatedAt, ""}} {
		var bySession, byTime partReport
		c.admin.Must(200, "GET", fmt.Sprintf("/api/v1/participation?session_id=%d", x.id), nil).Decode(t, &bySession)
		q := "since=" + url.QueryEscape(x.since)
		if x.until != "" {
			q += "&until=" + url.QueryEscape(x.until)
		}
		c.admin.Must(200, "GET", "/api/v1/participation?"+q, nil).Decode(t, &byTime)
		if deref(bySession.Since) != x.since || deref(bySession.Until) != x.until || !reflect.DeepEqual(bySession.Rows, byTime.Rows) {
			t.Errorf("session %d: %+v vs %+v", x.id, bySession, byTime)
		}
		checkParticipation(t, c, x.since, x.until)
		a := c.owner.Must(200, "GET", fmt.Sprintf("/api/v1/conversations/%d/transcript?format=csv&session_id=%d", c.g1, x.id), nil).Body
		b := c.owner.Must(200, "GET", fmt.Sprintf("/api/v1/conversations/%d/transcript?format=csv&%s", c.g1, q), nil).Body
		if string(a) != string(b) || strings.Count(string(a), "\n") < 2 {
			t.Errorf("session %d transcript:\n%s\nvs\n%s", x.id, a, b)
		}
	}
	for _, q := range []string{"session_id=0", "session_id=x", "session_id=9001&since=2026-01-01T00:00:00Z"} {
		if r := c.admin.Do("GET", "/api/v1/participation?"+q, nil); r.Status != 400 {
			t.Errorf("%s: %d %s", q, r.Status, r.Body)
		}
	}
	if r := c.admin.Do("GET", "/api/v1/participation?session_id=424242", nil); r.Status != 404 {
		t.Errorf("unknown session: %d %s", r.Status, r.Body)
	}
}
