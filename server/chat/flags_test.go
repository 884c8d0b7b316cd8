package chat

import "testing"

func TestMatchFlagWord(t *testing.T) {
	words := []string{"class", "shut up", "ärger", "c++"}
	for _, tc := range []struct {
		body string
		want string
	}{
		{"This CLASS is boring", "class"},
		{"class", "class"},
		{"(class)", "class"},
		{"classic rock", ""},
		{"subclass", ""},
		{"classes", ""},
		{"my_class", ""},
		{"please SHUT UP now", "shut up"},
		{"shutup", ""},
		{"Kein ÄRGER bitte", "ärger"},
		{"ärgerlich", ""},
		{"I like c++.", "c++"},
		{"ｃｌａｓｓ", "class"}, // full-width letters, NFKC
		{"clas s", ""},
		{"", ""},
	} {
		got, ok := matchFlagWord(tc.body, words)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%q: got %q %v, want %q", tc.body, got, ok, tc.want)
		}
	}
	if _, ok := matchFlagWord("class", nil); ok {
		t.Error("no words matched")
	}
}
