package chat_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"teamchat/server/chat"
)

var nameSeeds = []string{
	"Ana", "  Ana   María  ", "Prof. Smith", "Professor", "ｐｒｏｆ", "ℌ𝔢𝔩𝔩𝔬", "ﷺ", "ﬁ",
	"\u202eevil\u202c", "a\u200db", "a\u200b\u200cb", "\ufeffAna", "\u2066x\u2069", "\u061c",
	"\u034f", "\u115f\u1160\u3164\uffa0", "ㅤ", "a\u00a0\u2003b", "a\u3000b",
	"a\tb", "a\nb", "a\x00b", "\x7f", "\u0085", "a\u2028b", "\xc3\x28", "\xff", "\xed\xa0\x80",
	"e\u0301", "e\u200d\u0301", "a\u200b\u0308", "\u1100\u1160\u1161", " \u0301x",
	"Å", "Ω", "Ⅻ", "㈱", "①",
	strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("é", 64),
	strings.Repeat("\u200b", 100) + "a", strings.Repeat("ﷺ", 4),
	"", " ", "\u200b",
}

// FuzzNormalizeName checks the display/conversation name normalizer (THREATS
// A32, F13). Properties: no panic; an accepted name is valid UTF-8, NFKC
// normal, 1 to 64 runes, free of controls and format (Cf: bidi, zero-width)
// characters, has no leading, trailing or double spaces, and normalizing it
// again returns it unchanged.
// Seeds: nameSeeds and testdata/fuzz/FuzzNormalizeName.
func FuzzNormalizeName(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := chat.NormalizeName("name", in)
		if err != nil {
			return
		}
		if !utf8.ValidString(out) {
			t.Fatalf("NormalizeName(%q) = %q: invalid UTF-8", in, out)
		}
		if !norm.NFKC.IsNormalString(out) {
			t.Fatalf("NormalizeName(%q) = %q: not NFKC (NFKC is %q)", in, out, norm.NFKC.String(out))
		}
		if n := utf8.RuneCountInString(out); n < 1 || n > chat.MaxNameRunes {
			t.Fatalf("NormalizeName(%q) = %q: %d runes", in, out, n)
		}
		for _, r := range out {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("NormalizeName(%q) = %q: contains %U", in, out, r)
			}
		}
		if strings.TrimSpace(out) != out {
			t.Fatalf("NormalizeName(%q) = %q: leading or trailing space", in, out)
		}
		if strings.Contains(out, "  ") {
			t.Fatalf("NormalizeName(%q) = %q: double space", in, out)
		}
		for _, r := range out {
			if unicode.IsSpace(r) && r != ' ' {
				t.Fatalf("NormalizeName(%q) = %q: space %U other than U+0020", in, out, r)
			}
		}
		again, err := chat.NormalizeName("name", out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: NormalizeName(%q) = %q, then %q, %v", in, out, again, err)
		}
	})
}

// FuzzValidateBody checks the message body validator (THREATS A31, A32,
// F13): no panic, and it accepts exactly the valid UTF-8 bodies without NUL
// that have 1 to 4,000 runes after trimming.
// Seeds: f.Add below and testdata/fuzz/FuzzValidateBody.
func FuzzValidateBody(f *testing.F) {
	for _, s := range []string{
		"hi", " hi ", "", " ", "\t\n", "\u3000", "a\x00b", "\x00", "\xc3\x28", "\xff", "\xed\xa0\x80",
		"\u202eevil", "a\u200db", "**bold** $x^2$", "<script>alert(1)</script>",
		strings.Repeat("a", 4000), strings.Repeat("a", 4001), strings.Repeat("é", 4000),
		"  " + strings.Repeat("é", 4000) + "\n", strings.Repeat("😀", 4001),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		err := chat.ValidateBody(body)
		n := utf8.RuneCountInString(strings.TrimSpace(body))
		want := utf8.ValidString(body) && !strings.ContainsRune(body, 0) && n >= 1 && n <= chat.MaxBodyRunes
		if (err == nil) != want {
			t.Fatalf("ValidateBody(%q) = %v, want accepted=%v (%d runes after trim)", body, err, want, n)
		}
	})
}
