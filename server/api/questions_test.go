package api_test

import (
	"fmt"
	"strings"
	"testing"

	"teamchat/server/servertest"
)

// Questions: anonymity (REST and frames), upvotes once and as a toggle,
// sorting, staff changes, withdraw, moderation, refusals and the exports.

func questionsPath(conv int64, query string) string {
	return fmt.Sprintf("/api/v1/conversations/%d/questions%s", conv, query)
}

func qPath(id int64, suffix string) string { return fmt.Sprintf("/api/v1/questions/%d%s", id, suffix) }

type qView struct {
	ID    int64 `json:"id"`
	Asker *struct {
		ID int64 `json:"id"`
	} `json:"asker"`
	Mine      bool   `json:"mine"`
	Anonymous bool   `json:"anonymous"`
	Status    string `json:"status"`
	Pinned    bool   `json:"pinned"`
	Answer    string `json:"answer"`
	Votes     int    `json:"votes"`
	Voted     *bool  `json:"voted"`
	Body      string `json:"body"`
}

func board(t *testing.T, c *servertest.Client, conv int64, sort string) []qView {
	t.Helper()
	var out struct {
		Questions []qView `json:"questions"`
	}
	c.Must(200, "GET", questionsPath(conv, "?sort="+sort), nil).Decode(t, &out)
	return out.Questions
}

func ids(qs []qView) []int64 {
	var out []int64
	for _, q := range qs {
		out = append(out, q.ID)
	}
	return out
}

// expectQuestion waits for the next question_* frame, skipping other traffic.
func expectQuestion(t *testing.T, ws *servertest.WS, typ string) servertest.Frame {
	t.Helper()
	for {
		f := ws.Next()
		if strings.HasPrefix(f.Type(), "question_") {
			if f.Type() != typ {
				t.Fatalf("got %v, want %s", f, typ)
			}
			return f
		}
	}
}

// awaitFrame skips frames until one of type typ for which match holds (the
// socket's own deadline fails the test).
func awaitFrame(ws *servertest.WS, typ string, match func(servertest.Frame) bool) servertest.Frame {
	for {
		if f := ws.Next(); f.Type() == typ && match(f) {
			return f
		}
	}
}

func TestQuestionsAnonymityAndVotes(t *testing.T) {
	c := newHandClass(t)
	g := c.general
	profWS, annWS, benWS := c.admin.DialWS(), c.ann.DialWS(), c.ben.DialWS()
	defer profWS.Close()
	defer annWS.Close()
	defer benWS.Close()

	// Anonymous by default: a classmate sees no name, the professor and the asker do.
	r := c.ann.Must(201, "POST", questionsPath(g, ""), map[string]any{"body": "  Is the exam open book?  "})
	q1 := idOf(r)
	if m := r.JSON(); m["anonymous"] != true || m["mine"] != true || m["body"] != "Is the exam open book?" || m["voted"] != false {
		t.Fatalf("ask: %s", r.Body)
	}
	if f := expectQuestion(t, benWS, "question_asked"); f["question"].(map[string]any)["asker"] != nil || f["question"].(map[string]any)["mine"] != false {
		t.Fatalf("classmate's frame names the asker: %v", f)
	}
	if f := expectQuestion(t, profWS, "question_asked"); f["question"].(map[string]any)["asker"].(map[string]any)["id"] != float64(c.ann.ID()) {
		t.Fatalf("professor's frame: %v", f)
	}
	if f := expectQuestion(t, annWS, "question_asked"); f["question"].(map[string]any)["mine"] != true {
		t.Fatalf("asker's frame: %v", f)
	}
	if b := board(t, c.ben, g, "votes"); len(b) != 1 || b[0].Asker != nil || b[0].Mine {
		t.Fatalf("classmate's board: %+v", b)
	}
	if raw := string(c.ben.Must(200, "GET", questionsPath(g, ""), nil).Body); strings.Contains(raw, `"ann"`) {
		t.Fatalf("the classmate's answer contains the asker's name: %s", raw)
	}
	if b := board(t, c.admin, g, "votes"); b[0].Asker == nil || b[0].Asker.ID != c.ann.ID() {
		t.Fatalf("professor's board: %+v", b)
	}
	// Named when the asker says so; guests ask like students.
	q2 := idOf(c.ben.Must(201, "POST", questionsPath(g, ""), map[string]any{"body": "Can we get the slides?", "anonymous": false}))
	expectQuestion(t, annWS, "question_asked")
	if b := board(t, c.ann, g, "newest"); b[0].ID != q2 || b[0].Asker == nil || b[0].Asker.ID != c.ben.ID() {
		t.Fatalf("named question: %+v", b)
	}
	q3 := idOf(c.guest.Must(201, "POST", questionsPath(g, ""), map[string]any{"body": "Where is room 101?"}))
	expectQuestion(t, annWS, "question_asked")

	// Upvotes: once per user, a toggle; the board sorts by votes, or newest first.
	for _, who := range []*servertest.Client{c.ann, c.guest} {
		if r := who.Must(200, "PUT", qPath(q2, "/vote"), nil); r.JSON()["voted"] != true {
			t.Fatalf("vote: %s", r.Body)
		}
	}
	if r := c.ann.Must(200, "PUT", qPath(q2, "/vote"), nil); r.JSON()["votes"] != 2.0 {
		t.Fatalf("a second upvote counted: %s", r.Body)
	}
	c.ben.Must(200, "PUT", qPath(q3, "/vote"), nil)
	if got := ids(board(t, c.ben, g, "votes")); fmt.Sprint(got) != fmt.Sprint([]int64{q2, q3, q1}) {
		t.Fatalf("by votes: %v", got)
	}
	if got := ids(board(t, c.ben, g, "newest")); fmt.Sprint(got) != fmt.Sprint([]int64{q3, q2, q1}) {
		t.Fatalf("newest: %v", got)
	}
	if r := c.ann.Must(200, "DELETE", qPath(q2, "/vote"), nil); r.JSON()["votes"] != 1.0 || r.JSON()["voted"] != false {
		t.Fatalf("unvote: %s", r.Body)
	}
	f := awaitFrame(benWS, "question_updated", func(f servertest.Frame) bool {
		q := f["question"].(map[string]any)
		return q["votes"] == 1.0 && q["id"] == float64(q2)
	})
	if _, ok := f["question"].(map[string]any)["voted"]; ok {
		t.Fatalf("a frame carries voted: %v", f)
	}
	if b := board(t, c.guest, g, "votes"); b[0].ID != q2 || b[0].Voted == nil || !*b[0].Voted {
		t.Fatalf("guest's own vote: %+v", b[0])
	}

	// Staff: pin (first whatever the sort), answer inline, dismiss (gone for students).
	c.admin.Must(200, "PATCH", qPath(q1, ""), map[string]any{"pinned": true})
	if got := ids(board(t, c.ben, g, "votes")); got[0] != q1 {
		t.Fatalf("pinned not first: %v", got)
	}
	r = c.admin.Must(200, "PATCH", qPath(q3, ""), map[string]any{"answer": "Second floor, left."})
	if m := r.JSON(); m["status"] != "answered" || m["answered_by"].(map[string]any)["id"] != float64(c.admin.ID()) {
		t.Fatalf("answer: %s", r.Body)
	}
	c.admin.Must(200, "PATCH", qPath(q2, ""), map[string]any{"status": "dismissed"})
	awaitFrame(benWS, "question_removed", func(f servertest.Frame) bool { return f.Int("question_id") == q2 })
	if got := ids(board(t, c.ben, g, "votes")); fmt.Sprint(got) != fmt.Sprint([]int64{q1, q3}) {
		t.Fatalf("students' board after dismiss: %v", got)
	}
	if b := board(t, c.admin, g, "votes"); len(b) != 3 {
		t.Fatalf("staff board keeps the dismissed one: %+v", b)
	}
	if r := c.ann.Do("PUT", qPath(q2, "/vote"), nil); r.Status != 404 {
		t.Fatalf("vote on a dismissed question: %d %s", r.Status, r.Body)
	}

	// Withdraw: only the asker.
	if r := c.ben.Do("DELETE", qPath(q1, ""), nil); r.Status != 403 || r.ErrCode() != "forbidden" {
		t.Fatalf("withdraw another's: %d %s", r.Status, r.Body)
	}
	c.ann.Must(204, "DELETE", qPath(q1, ""), nil)
	awaitFrame(benWS, "question_removed", func(f servertest.Frame) bool { return f.Int("question_id") == q1 })
	if got := ids(board(t, c.admin, g, "votes")); len(got) != 2 {
		t.Fatalf("withdrawn still listed: %v", got)
	}
	if r := c.ann.Do("DELETE", qPath(q1, ""), nil); r.Status != 404 {
		t.Fatalf("withdraw twice: %d", r.Status)
	}
}

func TestQuestionsRefusals(t *testing.T) {
	c := newHandClass(t)
	g, p := c.general, c.private
	q := idOf(c.ann.Must(201, "POST", questionsPath(p, ""), map[string]any{"body": "Private?"}))
	for _, rq := range []struct {
		method, path string
		body         any
	}{
		{"GET", questionsPath(p, ""), nil}, {"POST", questionsPath(p, ""), map[string]any{"body": "x"}},
		{"PATCH", qPath(q, ""), map[string]any{"pinned": true}}, {"DELETE", qPath(q, ""), nil},
		{"PUT", qPath(q, "/vote"), nil}, {"DELETE", qPath(q, "/vote"), nil},
	} {
		if r := c.outsider.Do(rq.method, rq.path, rq.body); r.Status != 404 || r.ErrCode() != "not_found" {
			t.Errorf("outsider %s %s: %d %s", rq.method, rq.path, r.Status, r.Body)
		}
	}
	if r := c.ben.Do("PATCH", qPath(q, ""), map[string]any{"status": "answered"}); r.Status != 403 || r.ErrCode() != "forbidden" {
		t.Errorf("member marks answered: %d %s", r.Status, r.Body)
	}
	for name, rq := range map[string]struct {
		method, path string
		body         any
	}{
		"empty body":    {"POST", questionsPath(g, ""), map[string]any{"body": "   "}},
		"long body":     {"POST", questionsPath(g, ""), map[string]any{"body": strings.Repeat("a", 1001)}},
		"unknown field": {"POST", questionsPath(g, ""), map[string]any{"body": "x", "name": "me"}},
		"wrong type":    {"POST", questionsPath(g, ""), map[string]any{"body": "x", "anonymous": "yes"}},
		"bad sort":      {"GET", questionsPath(g, "?sort=random"), nil},
		"bad status":    {"PATCH", qPath(q, ""), map[string]any{"status": "withdrawn"}},
		"empty patch":   {"PATCH", qPath(q, ""), map[string]any{}},
	} {
		who := c.ann
		if rq.method == "PATCH" {
			who = c.admin
		}
		if r := who.Do(rq.method, rq.path, rq.body); r.Status != 400 || r.ErrCode() != "bad_request" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	if r := c.ann.Do("PUT", "/api/v1/questions/99999/vote", nil); r.Status != 404 || r.ErrCode() != "not_found" {
		t.Errorf("unknown question: %d %s", r.Status, r.Body)
	}

	// Muted: no asking, no voting; withdrawing one's own still works.
	own := idOf(c.ben.Must(201, "POST", questionsPath(g, ""), map[string]any{"body": "Mine"}))
	other := idOf(c.ann.Must(201, "POST", questionsPath(g, ""), map[string]any{"body": "Ann's"}))
	for _, who := range []*servertest.Client{c.ben, c.guest} {
		c.admin.Must(201, "POST", fmt.Sprintf("/api/v1/conversations/%d/mutes", g), map[string]any{"user_id": who.ID(), "minutes": 5})
		for _, rq := range []struct {
			method, path string
			body         any
		}{{"POST", questionsPath(g, ""), map[string]any{"body": "muted?"}}, {"PUT", qPath(other, "/vote"), nil}} {
			r := who.Do(rq.method, rq.path, rq.body)
			if r.Status != 403 || !strings.HasPrefix(errMsg(r), "you are muted in this conversation until ") {
				t.Errorf("muted %s %s: %d %s", rq.method, rq.path, r.Status, r.Body)
			}
		}
	}
	c.ben.Must(204, "DELETE", qPath(own, ""), nil)
	// Pause all: students and guests stop; the professor does not.
	c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"paused": true})
	for _, rq := range []struct {
		method, path string
		body         any
	}{{"POST", questionsPath(g, ""), map[string]any{"body": "paused?"}}, {"PUT", qPath(other, "/vote"), nil}} {
		r := c.ann.Do(rq.method, rq.path, rq.body)
		if r.Status != 403 || errMsg(r) != "the class is paused by the professor" {
			t.Errorf("paused %s %s: %d %s", rq.method, rq.path, r.Status, r.Body)
		}
	}
	c.admin.Must(200, "PUT", qPath(other, "/vote"), nil)
	c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"paused": false})
	c.ann.Must(200, "PUT", qPath(other, "/vote"), nil)
}

// Participation counts questions asked and upvotes given; transcripts (staff
// only) name every asker and say which were anonymous to classmates.
func TestQuestionsInExports(t *testing.T) {
	c := newHandClass(t)
	g := c.general
	q1 := idOf(c.ann.Must(201, "POST", questionsPath(g, ""), map[string]any{"body": "Anonymous one"}))
	q2 := idOf(c.ben.Must(201, "POST", questionsPath(g, ""), map[string]any{"body": "Named one", "anonymous": false}))
	c.ben.Must(200, "PUT", qPath(q1, "/vote"), nil)
	c.guest.Must(200, "PUT", qPath(q1, "/vote"), nil)
	c.guest.Must(200, "PUT", qPath(q2, "/vote"), nil)
	c.guest.Must(200, "DELETE", qPath(q2, "/vote"), nil)
	c.ann.Must(204, "DELETE", qPath(q1, ""), nil) // withdrawn: still asked

	var part struct {
		Rows []struct {
			User           struct{ ID int64 } `json:"user"`
			QuestionsAsked int                `json:"questions_asked"`
			UpvotesGiven   int                `json:"upvotes_given"`
		} `json:"rows"`
	}
	c.admin.Must(200, "GET", "/api/v1/participation", nil).Decode(t, &part)
	got := map[int64][2]int{}
	for _, r := range part.Rows {
		got[r.User.ID] = [2]int{r.QuestionsAsked, r.UpvotesGiven}
	}
	if got[c.ann.ID()] != [2]int{1, 0} || got[c.ben.ID()] != [2]int{1, 1} || got[c.guest.ID()] != [2]int{0, 1} {
		t.Errorf("questions_asked, upvotes_given: %v", got)
	}
	var tr struct {
		Questions []struct {
			Asker     struct{ ID int64 } `json:"asker"`
			Anonymous bool               `json:"anonymous"`
			Status    string             `json:"status"`
		} `json:"questions"`
	}
	c.admin.Must(200, "GET", fmt.Sprintf("/api/v1/conversations/%d/transcript?format=json", g), nil).Decode(t, &tr)
	if len(tr.Questions) != 2 || tr.Questions[0].Asker.ID != c.ann.ID() || !tr.Questions[0].Anonymous || tr.Questions[0].Status != "withdrawn" || tr.Questions[1].Asker.ID != c.ben.ID() {
		t.Errorf("transcript questions %+v", tr.Questions)
	}
	html := string(c.admin.Must(200, "GET", fmt.Sprintf("/api/v1/conversations/%d/transcript?format=html", g), nil).Body)
	if !strings.Contains(html, "<h3>Questions</h3>") || !strings.Contains(html, "(@ann, anonymous to classmates)") {
		t.Errorf("html transcript without the questions:\n%s", html)
	}
	// A student cannot get the transcript that names anonymous askers.
	if r := c.ann.Do("GET", fmt.Sprintf("/api/v1/conversations/%d/transcript?format=json", g), nil); r.Status != 403 {
		t.Errorf("student transcript: %d", r.Status)
	}
}
