package chat

import "testing"

// Flag words hidden by encoding tricks are still found; ordinary words that
// contain or resemble a flag word are not.
func TestMatchFlagWordSeesWhatAReaderSees(t *testing.T) {
	words := []string{"bad", "shut up", "ärger", "loser"}
	for _, body := range []string{
		"b\u200bad", "b\u200cad", "b\u00adad", "b\u2060ad", "b\ufeffad", "b\u180ead", "\u202ebad", "b\u3164ad",
		"ｂａｄ", "𝐛𝐚𝐝", "ⓑⓐⓓ", "BÁD", "b\u0301ad\u0327", "bа\u034fd", "Ьаd", "bΑd", "b\U000E0020ad", "ba\ufe0fd",
		"shut\u00a0up", "shut\u200b  up", "SHUT\nUP", "Kein ÄRGER", "kein a\u0308rger", "l0ser", "L0$ER is not, but l0s3r is",
	} {
		if _, ok := matchFlagWord(body, words); !ok {
			t.Errorf("%q is not flagged", body)
		}
	}
	for _, body := range []string{
		"badge", "Baden-Baden", "abad", "bad_idea", "badminton", "ⓑⓐⓓⓖⓔ", "shutup", "shut-eye", "ärgerlich", "closer",
		"room 105", "l0sers", "B A D", "Hello, bade", "бад", "наш класс", "Καλημέρα", "日本語のテキスト", "Tschüss",
	} {
		if w, ok := matchFlagWord(body, words); ok {
			t.Errorf("%q flagged as %q", body, w)
		}
	}
	// An edit is flagged only for a word it brings in.
	f := foldWords(words)
	if _, ok := f.match("so bad!", "bad"); ok {
		t.Error("an edit keeping the word was flagged again")
	}
	if w, ok := f.match("bad, loser", "b\u200bad"); !ok || w != "loser" {
		t.Errorf("an edit bringing in a second word: %q %v", w, ok)
	}
	if w, ok := f.match("so bad", "so good"); !ok || w != "bad" {
		t.Errorf("an edit into a flagged word: %q %v", w, ok)
	}
}
