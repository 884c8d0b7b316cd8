package chat

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"teamchat/server/model"
	"teamchat/server/store"
)

// Reports (issue 6, oversight and grading): participation per student and
// conversation transcripts. The REST endpoints and `teamchat export` both
// build and write them here, so the files are the same bytes for the same data.

// Report formats.
const (
	FormatJSON = "json"
	FormatCSV  = "csv"
	FormatHTML = "html"
)

// TimeRange bounds a report: since <= created_at < until; nil is open.
// SessionID, when not 0, replaces both with the class session's span
// (resolved by the Build functions).
type TimeRange struct {
	Since, Until *time.Time
	SessionID    int64
}

// resolve fills Since and Until from the class session, if one is named.
func (r *TimeRange) resolve(ctx context.Context, st *store.Store) error {
	if r.SessionID == 0 {
		return nil
	}
	if r.Since != nil || r.Until != nil {
		return model.Invalid("give session_id or since/until, not both")
	}
	since, until, err := st.SessionBounds(ctx, r.SessionID)
	if err != nil {
		return err
	}
	s := time.UnixMilli(since).UTC()
	r.Since = &s
	if until != nil {
		u := time.UnixMilli(*until).UTC()
		r.Until = &u
	}
	return nil
}

// ParseTimeRange reads optional RFC 3339 bounds ("" = open).
func ParseTimeRange(since, until string) (TimeRange, error) {
	var r TimeRange
	for _, b := range []struct {
		name, v string
		dst     **time.Time
	}{{"since", since, &r.Since}, {"until", until, &r.Until}} {
		if b.v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, b.v)
		if err != nil {
			return r, model.Invalid("%s: want an RFC 3339 time such as 2026-11-29T09:30:00Z", b.name)
		}
		t = t.UTC()
		*b.dst = &t
	}
	if r.Since != nil && r.Until != nil && r.Until.Before(*r.Since) {
		return r, model.Invalid("until: must not be before since")
	}
	return r, nil
}

func (r TimeRange) millis() (since, until *int64) {
	if r.Since != nil {
		v := r.Since.UnixMilli()
		since = &v
	}
	if r.Until != nil {
		v := r.Until.UnixMilli()
		until = &v
	}
	return since, until
}

func (r TimeRange) wire() (since, until *model.Time) {
	if r.Since != nil {
		since = &model.Time{Time: *r.Since}
	}
	if r.Until != nil {
		until = &model.Time{Time: *r.Until}
	}
	return since, until
}

// ---- participation ----

// ConversationCount is one conversation in a participation row.
type ConversationCount struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Messages int    `json:"messages"`
}

// ParticipationRow is one account's participation.
type ParticipationRow struct {
	User          model.User          `json:"user"`
	Messages      int                 `json:"messages"`
	Words         int                 `json:"words"`
	Conversations []ConversationCount `json:"conversations"`
	FirstAt       *model.Time         `json:"first_at"`
	LastAt        *model.Time         `json:"last_at"`
}

// Participation is the participation report.
type Participation struct {
	SessionID int64              `json:"session_id,omitempty"`
	Since     *model.Time        `json:"since"`
	Until     *model.Time        `json:"until"`
	Rows      []ParticipationRow `json:"rows"`
}

// BuildParticipation counts, per non-admin account (disabled ones too), the
// non-deleted messages in the range, their words, per conversation, and the
// first and last message times.
func BuildParticipation(ctx context.Context, st *store.Store, r TimeRange) (Participation, error) {
	var p Participation
	if err := r.resolve(ctx, st); err != nil {
		return p, err
	}
	p.Since, p.Until = r.wire()
	p.SessionID = r.SessionID
	users, err := st.NonAdminUsers(ctx)
	if err != nil {
		return p, err
	}
	p.Rows = make([]ParticipationRow, len(users))
	byID := map[int64]*ParticipationRow{}
	for i, u := range users {
		p.Rows[i] = ParticipationRow{User: u, Conversations: []ConversationCount{}}
		byID[u.ID] = &p.Rows[i]
	}
	since, until := r.millis()
	err = st.ParticipationMessages(ctx, since, until, func(m store.ReportMessage) error {
		row := byID[m.SenderID]
		if row == nil {
			return nil // an admin
		}
		row.Messages++
		row.Words += len(strings.Fields(m.Body))
		if n := len(row.Conversations); n == 0 || row.Conversations[n-1].ID != m.ConversationID {
			row.Conversations = append(row.Conversations, ConversationCount{ID: m.ConversationID, Name: m.ConversationName})
		}
		row.Conversations[len(row.Conversations)-1].Messages++
		t := model.Millis(m.CreatedAt)
		if row.FirstAt == nil || t.Before(row.FirstAt.Time) {
			row.FirstAt = &t
		}
		if row.LastAt == nil || t.After(row.LastAt.Time) {
			last := t
			row.LastAt = &last
		}
		return nil
	})
	return p, err
}

// ParticipationCSVHeader is the first row of the participation CSV.
var ParticipationCSVHeader = []string{"user_id", "username", "display_name", "role", "messages", "words",
	"conversations", "first_message_at", "last_message_at"}

// WriteParticipation writes the report as json or csv.
func WriteParticipation(w io.Writer, p Participation, format string) error {
	switch format {
	case FormatJSON:
		return writeIndented(w, p)
	case FormatCSV:
		cw := NewCSVWriter(w)
		if err := cw.Write(ParticipationCSVHeader); err != nil {
			return err
		}
		for _, r := range p.Rows {
			row := []string{strconv.FormatInt(r.User.ID, 10), r.User.Username, r.User.DisplayName, r.User.Role,
				strconv.Itoa(r.Messages), strconv.Itoa(r.Words), strconv.Itoa(len(r.Conversations)),
				csvTime(r.FirstAt), csvTime(r.LastAt)}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
		return cw.Flush()
	}
	return model.Invalid("format: want json or csv")
}

func csvTime(t *model.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(model.TimeLayout)
}

// Participation is BuildParticipation for an admin.
func (s *Service) Participation(ctx context.Context, actor model.User, r TimeRange) (Participation, error) {
	if actor.Disabled {
		return Participation{}, &model.Error{Kind: model.ErrUnauthorized, Msg: "account disabled"}
	}
	if actor.Role != model.RoleAdmin {
		return Participation{}, model.Forbidden("only admins can do this")
	}
	return BuildParticipation(ctx, s.st, r)
}

// ---- transcripts ----

// Transcript is one conversation's messages in a range. Deleted messages stay
// as placeholders (sender and time, empty body, deleted true).
type Transcript struct {
	Class        string             `json:"-"`
	Conversation model.Conversation `json:"conversation"`
	ExportedAt   model.Time         `json:"exported_at"`
	SessionID    int64              `json:"session_id,omitempty"`
	Since        *model.Time        `json:"since"`
	Until        *model.Time        `json:"until"`
	Messages     []model.Message    `json:"messages"`
}

// BuildTranscript reads a conversation's transcript (no authorization).
func BuildTranscript(ctx context.Context, st *store.Store, convID int64, r TimeRange, now time.Time) (Transcript, error) {
	t := Transcript{ExportedAt: model.Time{Time: now.UTC()}, SessionID: r.SessionID}
	if err := r.resolve(ctx, st); err != nil {
		return t, err
	}
	t.Since, t.Until = r.wire()
	conv, err := transcriptConversation(ctx, st, convID)
	if err != nil {
		return t, err
	}
	t.Conversation = conv
	if t.Class, err = className(ctx, st); err != nil {
		return t, err
	}
	since, until := r.millis()
	t.Messages, err = st.MessagesInRange(ctx, convID, since, until)
	return t, err
}

// transcriptConversation reads a conversation with its members, as a transcript shows it.
func transcriptConversation(ctx context.Context, st *store.Store, convID int64) (model.Conversation, error) {
	conv, err := st.Conversation(ctx, convID)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return conv, model.NotFound("conversation")
		}
		return conv, err
	}
	conv.Members, err = st.Members(ctx, convID)
	return conv, err
}

func className(ctx context.Context, st *store.Store) (string, error) {
	kv, err := st.Settings(ctx)
	if err != nil {
		return "", err
	}
	return kv[store.SettingName], nil
}

// Transcript is BuildTranscript for admins and the conversation's owners
// (members get forbidden, others not_found).
func (s *Service) Transcript(ctx context.Context, actor model.User, convID int64, r TimeRange) (Transcript, error) {
	if _, _, err := s.Authorize(ctx, actor, convID, ActManage); err != nil {
		return Transcript{}, err
	}
	return BuildTranscript(ctx, s.st, convID, r, time.Now())
}

// TranscriptCSVHeader is the first row of a transcript CSV: the columns of `teamchat export --format csv`.
var TranscriptCSVHeader = []string{"conversation_id", "conversation_name", "seq", "message_id", "created_at",
	"sender_id", "sender_username", "sender_display_name", "sender_role", "body", "deleted",
	"edited_at", "reply_to_seq", "attachments", "reactions"}

// WriteTranscript writes the transcript as json, csv or a printable html page.
func WriteTranscript(w io.Writer, t Transcript, format string) error {
	switch format {
	case FormatJSON:
		return writeIndented(w, t)
	case FormatCSV:
		cw := NewCSVWriter(w)
		if err := cw.Write(TranscriptCSVHeader); err != nil {
			return err
		}
		if err := writeTranscriptRows(cw, t.Conversation.Name, t.Messages); err != nil {
			return err
		}
		return cw.Flush()
	case FormatHTML:
		return transcriptHTML.ExecuteTemplate(w, "transcript", t)
	}
	return model.Invalid("format: want json, csv or html")
}

// writeTranscriptRows writes one transcript CSV row per message of one conversation.
func writeTranscriptRows(cw *CSVWriter, convName string, msgs []model.Message) error {
	for _, m := range msgs {
		if err := cw.Write(TranscriptCSVRow(convName, m)); err != nil {
			return err
		}
	}
	return nil
}

// TranscriptCSVRow is one message as a row under TranscriptCSVHeader, the
// plain values (CSVWriter defuses them); `teamchat export --format csv`
// writes the same rows.
func TranscriptCSVRow(convName string, m model.Message) []string {
	return []string{
		strconv.FormatInt(m.ConversationID, 10), convName, strconv.FormatInt(m.Seq, 10),
		strconv.FormatInt(m.ID, 10), m.CreatedAt.UTC().Format(model.TimeLayout),
		strconv.FormatInt(m.Sender.ID, 10), m.Sender.Username, m.Sender.DisplayName, m.Sender.Role,
		m.Body, strconv.FormatBool(m.Deleted),
		editedAt(m), replySeq(m), attachmentNames(m), reactionSummary(m),
	}
}

func editedAt(m model.Message) string {
	if m.EditedAt == nil {
		return ""
	}
	return m.EditedAt.UTC().Format(model.TimeLayout)
}

func replySeq(m model.Message) string {
	if m.ReplyTo == nil {
		return ""
	}
	return strconv.FormatInt(m.ReplyTo.Seq, 10)
}

// attachmentNames lists a message's files as "name (size bytes)", "; "-separated.
func attachmentNames(m model.Message) string {
	var b strings.Builder
	for i, a := range m.Attachments {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (%d bytes)", a.Name, a.Size)
	}
	return b.String()
}

// reactionSummary is "👍 3, ❤️ 1".
func reactionSummary(m model.Message) string {
	var b strings.Builder
	for i, r := range m.Reactions {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", r.Emoji, r.Count)
	}
	return b.String()
}

func writeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// CSVWriter is the only way the exports write CSV: every cell of every row
// goes through CSVSafe, so no column can be forgotten.
type CSVWriter struct{ w *csv.Writer }

// NewCSVWriter writes defused CSV to w.
func NewCSVWriter(w io.Writer) *CSVWriter { return &CSVWriter{w: csv.NewWriter(w)} }

// Write writes one row, each cell defused.
func (c *CSVWriter) Write(row []string) error {
	safe := make([]string, len(row))
	for i, v := range row {
		safe[i] = CSVSafe(v)
	}
	return c.w.Write(safe)
}

// Flush writes what is buffered and reports the first error of the writer.
func (c *CSVWriter) Flush() error {
	c.w.Flush()
	return c.w.Error()
}

// CSVSafe defuses spreadsheet formulas (a cell starting with = + - @ tab or CR is shown as text).
func CSVSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}

func htmlTime(t model.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// messageList is the data of the "messages" template: a conversation's
// messages; Prefix makes their element ids unique on a page with several.
type messageList struct {
	Prefix   string
	Messages []model.Message
}

// transcriptHTML holds the printable pages: "transcript" (one conversation)
// and "session" (a class session, a section per conversation). They share the
// style and the message list. Self-contained: inline CSS, no scripts;
// html/template escapes every user string.
var transcriptHTML = template.Must(template.Must(template.New("transcript").Funcs(template.FuncMap{
	"when":  htmlTime,
	"whenp": func(t *model.Time) string { return htmlTime(*t) },
	"list":  func(prefix string, msgs []model.Message) messageList { return messageList{prefix, msgs} },
}).Parse(`{{define "style"}}body { font: 11pt/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111; margin: 2em auto; max-width: 48em; padding: 0 1em; }
header { border-bottom: 2px solid #111; margin-bottom: 1em; padding-bottom: .5em; }
h1 { font-size: 1.5em; margin: 0; }
.class { font-size: 1.05em; color: #333; margin: .2em 0; }
.meta { font-size: .9em; color: #555; margin: .2em 0; }
ol { list-style: none; margin: 0; padding: 0; }
li { padding: .35em 0; border-bottom: 1px solid #ddd; break-inside: avoid; page-break-inside: avoid; }
.head { font-size: .85em; color: #555; }
.sender { font-weight: 600; color: #111; }
.body { white-space: pre-wrap; overflow-wrap: anywhere; margin-top: .1em; }
.deleted .body { font-style: italic; color: #777; }
.meta { font-size: .8em; color: #666; }
.empty { font-style: italic; color: #777; }
@media print { body { margin: 0; max-width: none; font-size: 10pt; } a { color: inherit; text-decoration: none; } }
{{end}}{{define "messages"}}{{if .Messages}}<ol>
{{range .Messages}}<li{{if .Deleted}} class="deleted"{{end}} id="{{$.Prefix}}m{{.Seq}}"><div class="head"><time datetime="{{.CreatedAt.UTC.Format "2006-01-02T15:04:05.000Z07:00"}}">{{when .CreatedAt}}</time> · <span class="sender">{{.Sender.DisplayName}}</span> (@{{.Sender.Username}}{{if eq .Sender.Role "admin"}}, staff{{else if eq .Sender.Role "guest"}}, guest{{end}})</div>{{if .ReplyTo}}<div class="meta">↩ reply to <a href="#{{$.Prefix}}m{{.ReplyTo.Seq}}">{{.ReplyTo.Sender.DisplayName}}, #{{.ReplyTo.Seq}}</a></div>{{end}}<div class="body">{{if .Deleted}}[deleted]{{else}}{{.Body}}{{end}}</div>{{if .EditedAt}}<div class="meta">(edited {{when .EditedAt}})</div>{{end}}{{range .Attachments}}<div class="meta">📎 {{.Name}} ({{.Size}} bytes)</div>{{end}}{{if .Reactions}}<div class="meta">{{range $i, $r := .Reactions}}{{if $i}} · {{end}}{{$r.Emoji}} {{$r.Count}}{{end}}</div>{{end}}</li>
{{end}}</ol>
{{else}}<p class="empty">No messages.</p>
{{end}}{{end}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Conversation.Name}} — {{if .Class}}{{.Class}} — {{end}}Transcript</title>
<style>
{{template "style"}}</style>
</head>
<body>
<header>
<h1>{{.Conversation.Name}}</h1>
{{if .Class}}<p class="class">{{.Class}}</p>{{end}}
<p class="meta">Transcript of conversation {{.Conversation.ID}}{{if .SessionID}} · class session {{.SessionID}}{{end}}{{if .Since}} · from {{whenp .Since}}{{end}}{{if .Until}} · until {{whenp .Until}}{{end}} · {{len .Messages}} messages · exported {{when .ExportedAt}}</p>
</header>
{{template "messages" (list "" .Messages)}}</body>
</html>
`)).New("session").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Session.Name}} — {{if .Class}}{{.Class}} — {{end}}Session transcript</title>
<style>
{{template "style"}}section { margin-top: 1.5em; }
h2 { font-size: 1.2em; margin: 0 0 .2em; break-after: avoid; page-break-after: avoid; }
</style>
</head>
<body>
<header>
<h1>{{.Session.Name}}</h1>
{{if .Class}}<p class="class">{{.Class}}</p>{{end}}
<p class="meta">Transcript of class session {{.Session.ID}} · from {{when .Session.StartedAt}}{{if .Session.EndedAt}} · until {{whenp .Session.EndedAt}}{{else}} · still running{{end}} · {{len .Conversations}} conversations · {{.MessageCount}} messages · exported {{when .ExportedAt}}</p>
</header>
{{range .Conversations}}<section id="c{{.Conversation.ID}}">
<h2>{{.Conversation.Name}}</h2>
<p class="meta">Conversation {{.Conversation.ID}} · {{len .Messages}} messages</p>
{{template "messages" (list (printf "c%d-" .Conversation.ID) .Messages)}}</section>
{{else}}<p class="empty">No messages.</p>
{{end}}</body>
</html>
`))

// TranscriptFilename is the download name of a transcript.
func TranscriptFilename(convID int64, format string) string {
	return "transcript-" + strconv.FormatInt(convID, 10) + "." + format
}

// ---- session transcripts ----

// SessionConversation is one conversation in a session transcript.
type SessionConversation struct {
	Conversation model.Conversation `json:"conversation"`
	Messages     []model.Message    `json:"messages"`
}

// SessionTranscript is every conversation's messages in a class session's
// window (the span session_id stands for), grouped by conversation in id
// order, messages in seq order, deleted ones as placeholders.
type SessionTranscript struct {
	Class         string                `json:"-"`
	Session       store.ClassSession    `json:"session"`
	ExportedAt    model.Time            `json:"exported_at"`
	Conversations []SessionConversation `json:"conversations"`
}

// MessageCount is the number of messages over all conversations.
func (t SessionTranscript) MessageCount() int {
	n := 0
	for _, c := range t.Conversations {
		n += len(c.Messages)
	}
	return n
}

// BuildSessionTranscript reads a class session's transcript (no authorization).
// An unknown session is not_found.
func BuildSessionTranscript(ctx context.Context, st *store.Store, sessionID int64, now time.Time) (SessionTranscript, error) {
	t := SessionTranscript{ExportedAt: model.Time{Time: now.UTC()}, Conversations: []SessionConversation{}}
	sess, err := st.ClassSessionByID(ctx, sessionID)
	if err != nil {
		return t, err
	}
	t.Session = sess
	r := TimeRange{SessionID: sessionID}
	if err := r.resolve(ctx, st); err != nil {
		return t, err
	}
	since, until := r.millis()
	msgs, err := st.AllMessagesInRange(ctx, since, until)
	if err != nil {
		return t, err
	}
	for len(msgs) > 0 {
		n := 1
		for n < len(msgs) && msgs[n].ConversationID == msgs[0].ConversationID {
			n++
		}
		conv, err := transcriptConversation(ctx, st, msgs[0].ConversationID)
		if err != nil {
			return t, err
		}
		t.Conversations = append(t.Conversations, SessionConversation{Conversation: conv, Messages: msgs[:n:n]})
		msgs = msgs[n:]
	}
	t.Class, err = className(ctx, st)
	return t, err
}

// SessionTranscript is BuildSessionTranscript for an admin.
func (s *Service) SessionTranscript(ctx context.Context, actor model.User, sessionID int64) (SessionTranscript, error) {
	if actor.Disabled {
		return SessionTranscript{}, &model.Error{Kind: model.ErrUnauthorized, Msg: "account disabled"}
	}
	if actor.Role != model.RoleAdmin {
		return SessionTranscript{}, model.Forbidden("only admins can do this")
	}
	return BuildSessionTranscript(ctx, s.st, sessionID, time.Now())
}

// WriteSessionTranscript writes the session transcript as json, csv (the
// columns of the conversation transcript CSV, one row per message) or a
// printable html page with a section per conversation.
func WriteSessionTranscript(w io.Writer, t SessionTranscript, format string) error {
	switch format {
	case FormatJSON:
		return writeIndented(w, t)
	case FormatCSV:
		cw := NewCSVWriter(w)
		if err := cw.Write(TranscriptCSVHeader); err != nil {
			return err
		}
		for _, c := range t.Conversations {
			if err := writeTranscriptRows(cw, c.Conversation.Name, c.Messages); err != nil {
				return err
			}
		}
		return cw.Flush()
	case FormatHTML:
		return transcriptHTML.ExecuteTemplate(w, "session", t)
	}
	return model.Invalid("format: want json, csv or html")
}

// SessionTranscriptFilename is the download name of a session transcript.
func SessionTranscriptFilename(sessionID int64, format string) string {
	return "session-" + strconv.FormatInt(sessionID, 10) + "-transcript." + format
}
