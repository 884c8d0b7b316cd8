package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFTSQuery(t *testing.T) {
	for in, want := range map[string]string{
		"cafe":                `"cafe"*`,
		"  two   words ":      `"two" "words"*`,
		`"exact phrase" tail`: `"exact phrase" "tail"*`,
		`tail "exact phrase"`: `"tail" "exact phrase"`,
		`NOT (x OR y)`:        `"NOT" "(x" "OR" "y)"*`,
		`say "it""s"`:         `"say" "it" "s"`,
		`a"b`:                 `"a" "b"`,
		`"unterminated`:       `"unterminated"`,
		`-- ** ^^ ()`:         ``,
		``:                    ``,
		`東京`:                  `"東京"*`,
	} {
		if got := FTSQuery(in); got != want {
			t.Errorf("FTSQuery(%q) = %q, want %q", in, got, want)
		}
	}
	many := strings.Repeat("w ", 40)
	if got := strings.Count(FTSQuery(many), `"w"`); got != 12 {
		t.Errorf("terms kept from 40 words: %d, want 12", got)
	}
}

func TestMentionNames(t *testing.T) {
	for in, want := range map[string]string{
		"@Stu hi":                  "[stu] false",
		"hi @stu. and @ann-marie,": "[stu ann-marie] false",
		"mail a@stu.org":           "[] false",
		"@all quiz @ALL":           "[] true",
		"@@x @ @.":                 "[x] false",
		"(@prof)":                  "[prof] false",
		"no mention":               "[] false",
	} {
		names, all := MentionNames(in)
		if names == nil {
			names = []string{}
		}
		if got := fmt.Sprint(names, " ", all); got != want {
			t.Errorf("MentionNames(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestSplitSnippet(t *testing.T) {
	got := splitSnippet("a " + markOpen + "b" + markClose + " c " + markOpen + "d" + markClose)
	if fmt.Sprint(got) != "[{a  false} {b true} { c  false} {d true}]" {
		t.Errorf("splitSnippet: %v", got)
	}
}

// FuzzFTSQuery: whatever a user types, the query built from it is accepted by
// SQLite's FTS5 (never a syntax error) and snippets split back into the text.
func FuzzFTSQuery(f *testing.F) {
	for _, s := range []string{"cafe", `"a b" c`, `NOT (x OR y)`, `a:b`, `^x*`, `"`, `""""`, `NEAR(a b, 2)`, "\x00", "東京 naïve", `-x +y`, `{a b}:c`} {
		f.Add(s)
	}
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE VIRTUAL TABLE t USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');
		INSERT INTO t (body) VALUES ('Café au lait'), ('NOT (x OR y)'), ('東京 naïve "quoted"')`); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if !utf8.ValidString(in) {
			return // the API refuses invalid UTF-8 before this
		}
		q := FTSQuery(in)
		if q == "" {
			return
		}
		rows, err := db.QueryContext(context.Background(), `SELECT snippet(t, 0, ?, ?, '…', 8) FROM t WHERE t MATCH ?`, markOpen, markClose, q)
		if err != nil {
			t.Fatalf("FTSQuery(%q) = %q: %v", in, q, err)
		}
		defer rows.Close()
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			joined := ""
			for _, p := range splitSnippet(s) {
				joined += p.Text
			}
			if strings.Contains(joined, markOpen) || strings.Contains(joined, markClose) {
				t.Fatalf("markers left in %q", joined)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("FTSQuery(%q) = %q: %v", in, q, err)
		}
	})
}
