package api_test

import (
	"fmt"
	"slices"
	"testing"
)

// TestKeywordFlagsCannotBeDodged: a flag word brought in by an edit is
// flagged like a sent one, and hiding it with invisible characters, accents,
// full-width forms or look-alike letters does not help; ordinary words that
// contain a flag word are not flagged.
func TestKeywordFlagsCannotBeDodged(t *testing.T) {
	c := newModClass(t)
	c.admin.Must(200, "PATCH", "/api/v1/settings", map[string]any{"flag_words": []string{"bad", "shut up"}})
	aws := c.admin.DialWS()
	post := func(body string) int64 {
		return idOf(c.stu.Must(201, "POST", msgsPath(c.g1), map[string]any{"body": body}))
	}
	edit := func(id int64, body string) {
		c.stu.Must(200, "PATCH", fmt.Sprintf("/api/v1/messages/%d", id), map[string]any{"body": body})
	}
	want := map[int64]string{} // message → flagged word
	var order []int64
	flagged := func(id int64, word string) { want[id] = word; order = append(order, id) }

	// An edit into a flagged word.
	harmless := post("good morning")
	edit(harmless, "you are so bad")
	flagged(harmless, "bad")
	// The same word kept through another edit is not flagged again.
	edit(harmless, "you are so BAD!")

	for _, v := range []struct{ body, word string }{
		{"b\u200bad", "bad"},                           // zero-width space
		{"b\u00adad", "bad"},                           // soft hyphen
		{"b\u2060a\u200dd", "bad"},                     // word joiner, zero-width joiner
		{"\u202ebad\u202c", "bad"},                     // bidi override
		{"ｂａｄ", "bad"},                                 // full-width
		{"𝐛𝐚𝐝", "bad"},                                 // mathematical bold
		{"BÀD", "bad"},                                 // accent
		{"ba\u0301\u0308d", "bad"},                     // combining marks
		{"bа\u034fd", "bad"},                           // Cyrillic а, combining grapheme joiner
		{"Ьаd", "bad"},                                 // Cyrillic capital soft sign and а
		{"b4d is not, b@d neither, but bΑd is", "bad"}, // Greek capital alpha
		{"b\U000E0061a\ufe0fd", "bad"},                 // tag character, variation selector
		{"shut\u200b \u00a0\u00adup", "shut up"},       // inside and across the space
		{"SHUT\nUP", "shut up"},
	} {
		flagged(post(v.body), v.word)
	}

	for _, body := range []string{"badge", "Baden-Baden", "abad", "a bad_idea", "room 101", "shutup", "badminton", "ⓑⓐⓓⓖⓔ"} {
		post(body)
	}
	// Another edit that brings a word in, after the ordinary ones.
	later := post("fine")
	edit(later, "shut up")
	flagged(later, "shut up")
	// Sends are checked in commit order and an edit before it answers, so once
	// this last send's flag is in, every message above has been checked.
	flagged(post("bad, the last one"), "bad")

	got := map[int64]string{}
	missing := func() bool {
		for id := range want {
			if _, ok := got[id]; !ok {
				return true
			}
		}
		return false
	}
	for missing() {
		f := waitFrame(t, aws, frameOf("message_flagged"))["flag"].(map[string]any)
		id := int64(f["message"].(map[string]any)["id"].(float64))
		if _, dup := got[id]; dup {
			t.Errorf("message %d flagged twice", id)
		}
		got[id] = f["word"].(string)
	}
	for _, id := range order {
		if got[id] != want[id] {
			t.Errorf("message %d: flagged %q, want %q", id, got[id], want[id])
		}
	}
	for id, w := range got {
		if _, ok := want[id]; !ok {
			body := c.admin.Must(200, "GET", msgsPath(c.g1), nil).Body
			t.Errorf("message %d flagged %q, not expected (%s)", id, w, body)
		}
	}
	flags := c.admin.Must(200, "GET", "/api/v1/flags", nil).JSON()["flags"].([]any)
	var ids []int64
	for _, f := range flags {
		ids = append(ids, int64(f.(map[string]any)["message"].(map[string]any)["id"].(float64)))
	}
	slices.Sort(ids)
	wantIDs := slices.Sorted(func(yield func(int64) bool) {
		for id := range want {
			if !yield(id) {
				return
			}
		}
	})
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("open flags on %v, want %v", ids, wantIDs)
	}
}
