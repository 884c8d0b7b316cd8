package chat

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"teamchat/server/model"
	"teamchat/server/realtime"
	"teamchat/server/store"
)

// Audit action of the flagged queue.
const AuditFlagResolve = "flag.resolve"

// Limits of flag words and reports.
const (
	MaxFlagWords    = 200
	MaxReasonRunes  = 500
	maxFlagsListed  = 500
	flagBatch       = 512
	flagQueueLength = 4096
)

// ---- settings ----

// flagSettings validates PATCH /settings' flag_words: at most 200 words of
// 1 to 64 characters, normalized like names, lower case, without duplicates.
func flagSettings(p SettingsPatch, kv map[string]string) error {
	if p.FlagWords == nil {
		return nil
	}
	in := *p.FlagWords
	if len(in) > MaxFlagWords {
		return model.Invalid("flag_words: at most %d words", MaxFlagWords)
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, w := range in {
		n, err := NormalizeName("flag_words", w)
		if err != nil {
			return err
		}
		n = strings.ToLower(n)
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	kv[store.SettingFlagWords] = string(b)
	return nil
}

// flagWordsOf reads the stored flag words (never nil).
func flagWordsOf(v string) []string {
	var ws []string
	if v != "" {
		_ = json.Unmarshal([]byte(v), &ws)
	}
	if ws == nil {
		ws = []string{}
	}
	return ws
}

// ---- matching ----

func wordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '_'
}

// matchFlagWord returns the first of words (lower case) that body contains as
// a whole word, compared as a reader sees them (foldForMatch): the characters
// around it are not letters, digits or marks ("class" does not match "classic").
func matchFlagWord(body string, words []string) (string, bool) {
	return foldWords(words).match(body, "")
}

// flagWords are the flag words with their folded forms, folded once per batch.
type flagWords struct{ words, folded []string }

func foldWords(words []string) flagWords {
	f := flagWords{words: words, folded: make([]string, len(words))}
	for i, w := range words {
		f.folded[i] = foldForMatch(w)
	}
	return f
}

// match is the first word that body contains and before (the text before an
// edit; "" for a new message) does not: an edit is flagged for what it brings
// in, not again for a word the message already had.
func (f flagWords) match(body, before string) (string, bool) {
	if len(f.words) == 0 {
		return "", false
	}
	text, prev := foldForMatch(body), foldForMatch(before)
	for i, w := range f.folded {
		if containsWord(text, w) && (prev == "" || !containsWord(prev, w)) {
			return f.words[i], true
		}
	}
	return "", false
}

var caseFold = cases.Fold()

// foldForMatch reduces text to what a reader sees, so that a flag word cannot
// be hidden by how it is encoded: compatibility forms decomposed (NFKD:
// full-width and mathematical letters are plain ones), combining marks,
// format characters (zero-width, soft hyphen, bidi) and other default-
// ignorable characters removed, runs of white space made one space, look-alike letters of other scripts folded to
// the Latin letter they imitate (nameSkeleton's table), case folded. Digits
// written for letters ("b4d" no, "l0ser" yes) are folded only inside a word
// that has letters, so "room 101" stays digits. Used to compare, never stored.
func foldForMatch(s string) string {
	if s == "" {
		return ""
	}
	rs := make([]rune, 0, len(s))
	for _, r := range norm.NFKD.String(s) {
		if unseen(r) {
			continue
		}
		if unicode.IsSpace(r) {
			if len(rs) > 0 && rs[len(rs)-1] == ' ' {
				continue
			}
			r = ' '
		}
		if !unicode.IsDigit(r) {
			r = lookAlike(r)
		}
		rs = append(rs, r)
	}
	for i := 0; i < len(rs); {
		j, letters := i, false
		for j < len(rs) && wordRune(rs[j]) {
			letters = letters || unicode.IsLetter(rs[j])
			j++
		}
		if letters {
			for k := i; k < j; k++ {
				if c, ok := confusables[rs[k]]; ok && unicode.IsDigit(rs[k]) {
					rs[k] = c
				}
			}
		}
		i = max(j, i+1)
	}
	return caseFold.String(string(rs))
}

// unseen reports characters that do not show in a message: format
// characters and the other default-ignorable code points, combining marks
// (after NFKD, accents) and variation selectors.
func unseen(r rune) bool {
	return invisible(r) || unicode.In(r, unicode.Mn, unicode.Me, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)
}

func containsWord(text, w string) bool {
	if w == "" {
		return false
	}
	first, _ := utf8.DecodeRuneInString(w)
	last, _ := utf8.DecodeLastRuneInString(w)
	for start := 0; start < len(text); {
		i := strings.Index(text[start:], w)
		if i < 0 {
			return false
		}
		pos := start + i
		end := pos + len(w)
		before, _ := utf8.DecodeLastRuneInString(text[:pos])
		after, _ := utf8.DecodeRuneInString(text[end:])
		okBefore := pos == 0 || !wordRune(first) || !wordRune(before)
		okAfter := end == len(text) || !wordRune(last) || !wordRune(after)
		if okBefore && okAfter {
			return true
		}
		_, size := utf8.DecodeRuneInString(text[pos:])
		start = pos + size
	}
	return false
}

// ---- keyword flags after the commit ----

// flagCheck is a stored message for the keyword check; before is its text
// before an edit ("" for a new message).
type flagCheck struct {
	m      model.Message
	before string
}

// flagAfterCommit hands a committed message to the keyword check. It runs in
// the committer after the message's ack; the check itself (and its write)
// runs in flagLoop, so acks are never delayed by it.
func (s *Service) flagAfterCommit(res store.AppendResult) {
	if res.Err != nil || !res.Created {
		return
	}
	s.checkFlags(res.Message, "")
}

// checkFlags queues a new or edited message for the keyword check; messages
// of admins are not checked.
func (s *Service) checkFlags(m model.Message, before string) {
	if m.Sender.Role == model.RoleAdmin {
		return
	}
	s.flagged <- flagCheck{m: m, before: before}
}

// flagLoop checks committed messages against the flag words. At stop it
// keeps going until the committer has finished, then drains what is left.
func (s *Service) flagLoop() {
	defer s.bg.Done()
	stop := s.stop
	var committed chan struct{} // closed once the committer has returned (after stop)
	batch := make([]flagCheck, 0, flagBatch)
	for {
		select {
		case c := <-s.flagged:
			batch = s.drainFlagged(append(batch[:0], c))
			s.flagMessages(context.Background(), batch)
		case <-stop:
			stop = nil
			committed = make(chan struct{})
			go func() {
				s.commitWG.Wait()
				close(committed)
			}()
		case <-committed:
			for {
				if batch = s.drainFlagged(batch[:0]); len(batch) == 0 {
					return
				}
				s.flagMessages(context.Background(), batch)
			}
		}
	}
}

// drainFlagged appends the messages that are waiting, up to a batch.
func (s *Service) drainFlagged(batch []flagCheck) []flagCheck {
	for len(batch) < flagBatch {
		select {
		case c := <-s.flagged:
			batch = append(batch, c)
		default:
			return batch
		}
	}
	return batch
}

// flagMessages records a keyword flag for each message that contains a flag
// word (an edited one: a word it did not contain before) and tells the
// admins' connections.
func (s *Service) flagMessages(ctx context.Context, batch []flagCheck) {
	kv, err := s.st.Settings(ctx)
	if err != nil {
		s.log.Error("keyword check: settings", "err", err)
		return
	}
	words := foldWords(flagWordsOf(kv[store.SettingFlagWords]))
	if len(words.words) == 0 {
		return
	}
	var hits []store.KeywordHit
	for _, c := range batch {
		if w, ok := words.match(c.m.Body, c.before); ok {
			hits = append(hits, store.KeywordHit{MessageID: c.m.ID, Word: w})
		}
	}
	if len(hits) == 0 {
		return
	}
	ids, err := s.st.AddKeywordFlags(ctx, hits)
	if err != nil {
		s.log.Error("keyword flags not stored", "err", err, "count", len(hits))
		return
	}
	for _, id := range ids {
		s.publishFlag(ctx, id)
	}
}

func (s *Service) publishFlag(ctx context.Context, id int64) {
	f, err := s.st.Flag(ctx, id)
	if err != nil {
		s.log.Error("flag lookup failed", "id", id, "err", err)
		return
	}
	s.hub.PublishToUsers(nil, true, realtime.MessageFlaggedFrame{Type: "message_flagged", Flag: f})
}

// ---- reports and the queue ----

// checkText trims and checks a free-text field: valid UTF-8, no control
// characters but newlines and tabs, at most max characters (min 1 if required).
func checkText(field, v string, required bool, max int) (string, error) {
	if !utf8.ValidString(v) {
		return "", model.Invalid("%s: invalid UTF-8", field)
	}
	v = strings.TrimSpace(v)
	for _, r := range v {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return "", model.Invalid("%s: control characters are not allowed", field)
		}
	}
	n := utf8.RuneCountInString(v)
	if required && n == 0 {
		return "", model.Invalid("%s: must not be empty", field)
	}
	if n > max {
		return "", model.Invalid("%s: at most %d characters", field, max)
	}
	return v, nil
}

// Report records a user's report of a message (anyone who can read its
// conversation); admins' connections get message_flagged.
func (s *Service) Report(ctx context.Context, actor model.User, msgID int64, reason string) (store.Flag, error) {
	m, err := s.st.Message(ctx, msgID)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return store.Flag{}, model.NotFound("message")
		}
		return store.Flag{}, err
	}
	if _, _, err := s.Authorize(ctx, actor, m.ConversationID, ActRead); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return store.Flag{}, model.NotFound("message")
		}
		return store.Flag{}, err
	}
	if reason, err = checkText("reason", reason, true, MaxReasonRunes); err != nil {
		return store.Flag{}, err
	}
	if m.Deleted {
		return store.Flag{}, model.Invalid("a deleted message cannot be reported")
	}
	id, err := s.st.AddReport(ctx, msgID, actor.ID, reason)
	if err != nil {
		return store.Flag{}, err
	}
	f, err := s.st.Flag(ctx, id)
	if err != nil {
		return store.Flag{}, err
	}
	s.hub.PublishToUsers(nil, true, realtime.MessageFlaggedFrame{Type: "message_flagged", Flag: f})
	return f, nil
}

// Flags lists the open or resolved flags, newest first (admins only).
func (s *Service) Flags(ctx context.Context, actor model.User, status string) ([]store.Flag, error) {
	if actor.Role != model.RoleAdmin {
		return nil, model.Forbidden("only admins can see flagged messages")
	}
	var resolved bool
	switch status {
	case "", "open":
	case "resolved":
		resolved = true
	default:
		return nil, model.Invalid("status: want open or resolved")
	}
	return s.st.Flags(ctx, resolved, maxFlagsListed)
}

// ResolveFlag marks a flag resolved (admins only), with an optional note.
func (s *Service) ResolveFlag(ctx context.Context, actor model.User, id int64, note string) (store.Flag, error) {
	if actor.Role != model.RoleAdmin {
		return store.Flag{}, model.Forbidden("only admins can resolve flags")
	}
	note, err := checkText("note", note, false, MaxReasonRunes)
	if err != nil {
		return store.Flag{}, err
	}
	f, err := s.st.Flag(ctx, id)
	if err != nil {
		return store.Flag{}, err
	}
	details := map[string]any{"kind": f.Kind, "message_id": f.Message.ID, "conversation_id": f.Conversation.ID}
	if note != "" {
		details["note"] = note
	}
	if err := s.st.ResolveFlag(ctx, id, actor.ID, note, entry(actor, AuditFlagResolve, "flag", id, details)); err != nil {
		return store.Flag{}, err
	}
	return s.st.Flag(ctx, id)
}
