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

// reservedNames are display names a student or guest may not take, compared by
// skeleton (lower case, letters and digits only).
var reservedNames = map[string]bool{
	"professor": true, "prof": true, "admin": true, "administrator": true, "teacher": true,
	"instructor": true, "moderator": true, "mod": true, "staff": true, "system": true, "teamchat": true,
}

// nameSkeleton reduces a normalized name to lower-case letters and digits.
func nameSkeleton(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}
