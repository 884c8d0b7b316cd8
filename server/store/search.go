package store

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"teamchat/server/model"
)

// SearchQuery is a full-text search over the messages a user may read.
type SearchQuery struct {
	Text           string // the user's words and "quoted phrases"
	UserID         int64
	Admin          bool  // admins search every conversation
	ConversationID int64 // 0: any
	SenderID       int64 // 0: any
	After, Before  int64 // unix ms; 0: open
	Limit, Offset  int
}

// SnippetPart is a piece of a result's snippet; Match marks the found words.
type SnippetPart struct {
	Text  string `json:"text"`
	Match bool   `json:"match"`
}

// SearchResult is one found message.
type SearchResult struct {
	Message          model.Message `json:"message"`
	ConversationName string        `json:"conversation_name"`
	Snippet          []SnippetPart `json:"snippet"`
}

// SearchPage is one page of results, newest first.
type SearchPage struct {
	Results []SearchResult `json:"results"`
	HasMore bool           `json:"has_more"`
}

// searchWaitIndex bounds how long a search waits for the indexer to reach
// the messages committed before it.
const searchWaitIndex = time.Second

// Snippet markers: private-use characters that FTS5 puts around matches.
const (
	markOpen  = "\uE000"
	markClose = "\uE001"
)

// FTSQuery turns what a user typed into an FTS5 query that only ever means
// "all of these words and phrases": every word and "quoted phrase" becomes a
// quoted FTS5 string (so AND, OR, NOT, NEAR, *, ^, :, -, parentheses are
// searched as text, never interpreted), the last word also matches as a
// prefix. Words without a letter or digit are dropped; at most 12 terms. It
// answers "" when nothing searchable is left.
func FTSQuery(text string) string {
	var terms []string
	var prefixLast bool
	rest := strings.Map(func(r rune) rune { // NUL and other controls end or break FTS5 strings
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, text)
	for len(terms) < 12 {
		rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
		if rest == "" {
			break
		}
		var term string
		phrase := false
		if rest[0] == '"' {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				term, rest = rest[1:], ""
			} else {
				term, rest = rest[1:1+end], rest[2+end:]
			}
			phrase = true
		} else {
			end := strings.IndexFunc(rest, func(r rune) bool { return unicode.IsSpace(r) || r == '"' })
			if end < 0 {
				end = len(rest)
			}
			term, rest = rest[:end], rest[end:]
		}
		if !strings.ContainsFunc(term, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
			continue
		}
		terms = append(terms, `"`+strings.ReplaceAll(term, `"`, `""`)+`"`)
		prefixLast = !phrase
	}
	if len(terms) == 0 {
		return ""
	}
	if prefixLast {
		terms[len(terms)-1] += "*"
	}
	return strings.Join(terms, " ")
}

// Search runs q; the caller validated it. Results are newest first.
func (s *Store) Search(ctx context.Context, q SearchQuery) (SearchPage, error) {
	match := FTSQuery(q.Text)
	if match == "" {
		return SearchPage{}, model.Invalid("q: nothing to search for: type a word")
	}
	// What was sent before the search is found: the indexer runs now rather
	// than after its gathering delay. If it cannot (a failing disk), search
	// what is indexed.
	wctx, cancel := context.WithTimeout(ctx, searchWaitIndex)
	_ = s.WaitIndexed(wctx)
	cancel()
	before := q.Before
	if before == 0 {
		before = 1 << 62
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+msgCols+`, c.name, snippet(messages_fts, 0, ?, ?, '…', 24)
		FROM messages_fts f
		JOIN messages m ON m.id = f.rowid
		JOIN users u ON u.id = m.sender_id
		JOIN conversations c ON c.id = m.conversation_id
		WHERE messages_fts MATCH ? AND m.deleted = 0
		  AND (? OR EXISTS (SELECT 1 FROM conversation_members cm WHERE cm.conversation_id = m.conversation_id AND cm.user_id = ?))
		  AND (? = 0 OR m.conversation_id = ?)
		  AND (? = 0 OR m.sender_id = ?)
		  AND m.created_at >= ? AND m.created_at < ?
		ORDER BY f.rowid DESC LIMIT ? OFFSET ?`,
		markOpen, markClose, match, q.Admin, q.UserID, q.ConversationID, q.ConversationID, q.SenderID, q.SenderID,
		q.After, before, q.Limit+1, q.Offset)
	if err != nil {
		return SearchPage{}, fmt.Errorf("store: search: %w", err)
	}
	defer rows.Close()
	page := SearchPage{Results: []SearchResult{}}
	for rows.Next() {
		var r SearchResult
		var snippet string
		m, err := scanMessage(&extraScanner{rows, []any{&r.ConversationName, &snippet}})
		if err != nil {
			return page, fmt.Errorf("store: search: %w", err)
		}
		if len(page.Results) == q.Limit {
			page.HasMore = true
			break
		}
		r.Message = m
		r.Snippet = splitSnippet(snippet)
		page.Results = append(page.Results, r)
	}
	err = rows.Err()
	// Give the connection back before hydrate takes one: after the break above
	// the rows are still open, and searches each holding a reader while
	// waiting for another would exhaust the pool and stop every read.
	rows.Close()
	if err != nil {
		return page, fmt.Errorf("store: search: %w", err)
	}
	ms := make([]model.Message, len(page.Results))
	for i := range page.Results {
		ms[i] = page.Results[i].Message
	}
	if err := hydrate(ctx, s.r, ms); err != nil {
		return page, err
	}
	for i := range ms {
		page.Results[i].Message = ms[i]
	}
	return page, nil
}

// extraScanner appends destinations after a row's message columns.
type extraScanner struct {
	sc    scanner
	extra []any
}

func (e *extraScanner) Scan(dest ...any) error { return e.sc.Scan(append(dest, e.extra...)...) }

// splitSnippet cuts FTS5's marked snippet into text parts.
func splitSnippet(s string) []SnippetPart {
	parts := []SnippetPart{}
	for s != "" {
		i := strings.Index(s, markOpen)
		if i < 0 {
			parts = append(parts, SnippetPart{Text: s})
			break
		}
		if i > 0 {
			parts = append(parts, SnippetPart{Text: s[:i]})
		}
		s = s[i+len(markOpen):]
		j := strings.Index(s, markClose)
		if j < 0 {
			j = len(s)
		}
		parts = append(parts, SnippetPart{Text: s[:j], Match: true})
		s = strings.TrimPrefix(s[j:], markClose)
	}
	return parts
}
