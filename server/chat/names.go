package chat

import (
	"context"
	"strings"
	"unicode"

	"teamchat/server/model"
)

// staffTitles are words that make a name pass for staff, in the languages
// whose letters nameSkeleton folds (Latin with accents, Cyrillic, Greek),
// kept as skeletons. A student or guest may not put one in a name of their
// own choosing; an admin may give one (a teaching assistant's account).
var staffTitles = skeletonSet(
	// English
	"professor", "prof", "dr", "doctor", "teacher", "instructor", "lecturer", "admin", "administrator",
	"moderator", "mod", "staff", "system", "teamchat",
	// German, French, Spanish, Italian
	"professorin", "lehrer", "lehrerin", "lehrkraft", "dozent", "dozentin",
	"professeur", "professeure", "enseignant", "enseignante", "administrateur", "modérateur",
	"profesor", "profesora", "maestro", "maestra", "docente", "administrador", "moderador",
	"professore", "professoressa", "insegnante", "amministratore", "moderatore",
	// Russian, Greek
	"профессор", "преподаватель", "учитель", "учительница", "админ", "администратор", "модератор",
	"καθηγητής", "καθηγήτρια", "δάσκαλος", "δασκάλα", "διαχειριστής",
)

func skeletonSet(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[nameSkeleton(w)] = true
	}
	return m
}

// nameWords splits a normalized name into words: runs of letters, digits
// and marks, split again where a small letter is followed by a capital
// ("ProfSmith" is "Prof" "Smith").
func nameWords(name string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) {
			flush()
			continue
		}
		if len(cur) > 0 && unicode.IsUpper(r) && unicode.IsLower(cur[len(cur)-1]) {
			flush()
		}
		cur = append(cur, r)
	}
	flush()
	return words
}

// staffTitle returns the part of name that reads as a staff title: a word,
// two words together ("Team Chat", "Ad Min"), single letters ("P.R.O.F.
// X"), the whole name, or "TA" in capitals (as a word in small
// letters it is a surname).
func staffTitle(name string) (string, bool) {
	words := nameWords(name)
	sk := make([]string, len(words))
	for i, w := range words {
		sk[i] = nameSkeleton(w)
	}
	for i, w := range words {
		if staffTitles[sk[i]] {
			return w, true
		}
		if sk[i] == "ta" && !hasLower(w) {
			return w, true
		}
		if i+1 < len(words) && staffTitles[sk[i]+sk[i+1]] {
			return w + " " + words[i+1], true
		}
	}
	// Spelled out: a title of three letters or more among single letters.
	for i := range words {
		run := ""
		for j := i; j < len(words) && len([]rune(words[j])) == 1; j++ {
			run += sk[j]
			if j > i+1 && staffTitles[run] {
				return strings.Join(words[i:j+1], "."), true
			}
		}
	}
	if staffTitles[nameSkeleton(name)] {
		return name, true
	}
	return "", false
}

func hasLower(s string) bool {
	for _, r := range s {
		if unicode.IsLower(r) {
			return true
		}
	}
	return false
}

// checkDisplayName refuses a display name that another active account (of
// any role, not self) already has, compared by skeleton (case, accents,
// spacing, punctuation, invisible characters and look-alike letters do not
// count: "prof.  ADA" is "Prof. Ada"). own: a student or guest chose the
// name, so it may not contain a staff title either.
func (s *Service) checkDisplayName(ctx context.Context, name string, self int64, own bool) error {
	if own {
		if t, ok := staffTitle(name); ok {
			return model.Invalid("display_name: %q reads as a staff title (%q); choose your own name", name, t)
		}
	}
	sk := nameSkeleton(name)
	if sk == "" {
		return nil // no letters or digits (emoji): nothing to pass for
	}
	others, err := s.st.DisplayNames(ctx)
	if err != nil {
		return err
	}
	for _, o := range others {
		if o.ID == self || nameSkeleton(o.DisplayName) != sk {
			continue
		}
		if o.Role == model.RoleAdmin {
			return model.Invalid("display_name: %q belongs to a staff member; choose your own name", name)
		}
		return model.Invalid("display_name: %q is already someone's name in this class; add an initial or another name", name)
	}
	return nil
}
