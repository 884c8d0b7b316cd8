package chat

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"teamchat/server/model"
)

// Limits on user input.
const (
	MaxBodyRunes     = 4000
	MaxNameRunes     = 64
	MaxClientIDRunes = 64
)

var usernameRE = regexp.MustCompile(`^[a-z0-9_.-]{3,32}$`)

// NormalizeUsername lower-cases and checks a username.
func NormalizeUsername(u string) (string, error) {
	u = strings.ToLower(strings.TrimSpace(u))
	if !usernameRE.MatchString(u) {
		return "", model.Invalid("username: 3 to 32 of a-z, 0-9, '_', '.', '-'")
	}
	return u, nil
}

// invisible reports characters that are removed from names: bidi controls,
// zero-width characters and other format characters (Trojan Source, look-alikes).
func invisible(r rune) bool {
	return unicode.Is(unicode.Cf, r) || r == '\u034f' || r == '\u115f' || r == '\u1160' || r == '\u3164' || r == '\uffa0'
}

// NormalizeName cleans a display or conversation name: NFKC, invisible and
// bidi characters removed, spaces collapsed; 1 to 64 characters, no controls.
func NormalizeName(field, s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", model.Invalid("%s: invalid UTF-8", field)
	}
	s = norm.NFKC.String(s)
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case invisible(r):
			continue
		case unicode.IsControl(r):
			return "", model.Invalid("%s: control characters are not allowed", field)
		case unicode.IsSpace(r):
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	out := norm.NFKC.String(b.String()) // removing invisibles can leave a non-normal sequence (e + ZWJ + U+0301)
	n := utf8.RuneCountInString(out)
	if n == 0 {
		return "", model.Invalid("%s: must not be empty", field)
	}
	if n > MaxNameRunes {
		return "", model.Invalid("%s: at most %d characters", field, MaxNameRunes)
	}
	return out, nil
}

// ValidateBody checks a message body: valid UTF-8, no NUL, 1 to 4,000
// characters after trimming. The body is stored exactly as sent.
func ValidateBody(body string) error {
	if !utf8.ValidString(body) {
		return model.Invalid("body: invalid UTF-8")
	}
	if strings.ContainsRune(body, 0) {
		return model.Invalid("body: NUL characters are not allowed")
	}
	n := utf8.RuneCountInString(strings.TrimSpace(body))
	if n == 0 {
		return model.Invalid("body: must not be empty")
	}
	if n > MaxBodyRunes {
		return model.Invalid("body: at most %d characters (%d given)", MaxBodyRunes, n)
	}
	return nil
}

// ValidateClientID checks a client_id: 1 to 64 characters, no controls.
func ValidateClientID(id string) error {
	if id == "" {
		return model.Invalid("client_id: required")
	}
	if !utf8.ValidString(id) || utf8.RuneCountInString(id) > MaxClientIDRunes {
		return model.Invalid("client_id: at most %d characters", MaxClientIDRunes)
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return model.Invalid("client_id: control characters are not allowed")
		}
	}
	return nil
}

// nameSkeleton reduces a normalized name to what it looks like: lower-case
// Latin letters and digits, with accents removed (NFKD, marks dropped) and
// look-alike letters of other scripts folded to the Latin letter they pass
// for (a subset of Unicode's confusables: Cyrillic "Рrоf" is "prof", so is
// "Pr0f"). Only used to compare names, never stored.
func nameSkeleton(s string) string {
	var b strings.Builder
	for _, r := range norm.NFKD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		r = lookAlike(r)
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// lookAlike is the lower-case letter r passes for: the Latin letter of a
// look-alike (confusables, digits included), otherwise r in lower case.
func lookAlike(r rune) rune {
	if c, ok := upperConfusables[r]; ok {
		return c
	}
	r = unicode.ToLower(r)
	if c, ok := confusables[r]; ok {
		return c
	}
	return r
}

// upperConfusables maps capitals that look like a Latin capital whose lower
// case does not (Greek Η is "H", its η is not "h").
var upperConfusables = map[rune]rune{
	'А': 'a', 'В': 'b', 'Е': 'e', 'К': 'k', 'М': 'm', 'Н': 'h', 'О': 'o', 'Р': 'p', 'С': 'c', 'Т': 't',
	'У': 'y', 'Х': 'x', 'Ѕ': 's', 'І': 'i', 'Ј': 'j', 'Ԁ': 'd', 'Ү': 'y',
	'Α': 'a', 'Β': 'b', 'Ε': 'e', 'Ζ': 'z', 'Η': 'h', 'Ι': 'i', 'Κ': 'k', 'Μ': 'm', 'Ν': 'n', 'Ο': 'o',
	'Ρ': 'p', 'Τ': 't', 'Υ': 'y', 'Χ': 'x',
}

// confusables maps lower-case look-alikes to the Latin letter they imitate.
var confusables = map[rune]rune{
	// Cyrillic
	'а': 'a', 'в': 'b', 'е': 'e', 'ё': 'e', 'һ': 'h', 'і': 'i', 'ї': 'i', 'ј': 'j', 'к': 'k', 'ӏ': 'l',
	'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'ԛ': 'q', 'г': 'r', 'ѕ': 's', 'т': 't', 'у': 'y', 'ԝ': 'w',
	'х': 'x', 'ԁ': 'd', 'ь': 'b', 'п': 'n', 'и': 'u', 'ѵ': 'v', 'с': 'c', 'ү': 'y',
	// Greek
	'α': 'a', 'β': 'b', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't',
	'υ': 'u', 'χ': 'x', 'γ': 'y', 'ζ': 'z', 'μ': 'u', 'ω': 'w',
	// Latin and symbols that pass for Latin letters
	'ı': 'i', 'ł': 'l', 'ĸ': 'k', 'ɑ': 'a', 'ɩ': 'i', 'ɡ': 'g', 'ℓ': 'l', 'ø': 'o', 'đ': 'd', 'ħ': 'h',
	// Digits written for letters
	'0': 'o', '1': 'l', '3': 'e', '5': 's', '7': 't',
}
