package api

import (
	"bytes"
	"fmt"
	"net/http"

	"teamchat/server/chat"
)

// Exports (issue 6, oversight and grading): participation and transcripts.
// The files are built and written by chat (reports.go), as `teamchat export` does.

func (a *API) exportRoutes() []route {
	return []route{
		{"GET /api/v1/participation", a.signedIn(a.getParticipation)},
		{"GET /api/v1/conversations/{id}/transcript", a.signedIn(a.getTranscript)},
		{"GET /api/v1/sessions/{id}/transcript", a.signedIn(a.getSessionTranscript)},
	}
}

// exportFormat reads format (default json; one of allowed).
func exportFormat(r *http.Request, allowed ...string) (string, error) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = chat.FormatJSON
	}
	for _, f := range allowed {
		if f == format {
			return format, nil
		}
	}
	return "", badRequest("format: want one of %v", allowed)
}

// exportParams reads format (default json; one of allowed), since/until and session_id.
func exportParams(r *http.Request, allowed ...string) (string, chat.TimeRange, error) {
	q := r.URL.Query()
	format, err := exportFormat(r, allowed...)
	if err != nil {
		return "", chat.TimeRange{}, err
	}
	rng, err := chat.ParseTimeRange(q.Get("since"), q.Get("until"))
	if err != nil {
		return "", rng, err
	}
	if v, err := queryInt(r, "session_id"); err != nil {
		return "", rng, err
	} else if v != nil {
		if *v == 0 {
			return "", rng, badRequest("session_id: want a positive integer")
		}
		rng.SessionID = *v
	}
	return format, rng, nil
}

// exportLocale reads who the printable page is for: lang (a BCP 47 tag, else
// Accept-Language; English when neither names one of chat.ExportLangs) and
// tz (an IANA zone; the server's local zone when absent; unknown → 400).
func exportLocale(r *http.Request) (chat.ExportLocale, error) {
	q := r.URL.Query()
	zone, err := chat.ExportZone(q.Get("tz"))
	if err != nil {
		return chat.ExportLocale{}, err
	}
	return chat.ExportLocale{Lang: chat.ExportLang(q.Get("lang"), r.Header.Get("Accept-Language")), Zone: zone}, nil
}

var exportTypes = map[string]string{
	chat.FormatJSON: "application/json; charset=utf-8",
	chat.FormatCSV:  "text/csv; charset=utf-8",
	chat.FormatHTML: "text/html; charset=utf-8",
}

// writeFile answers a rendered file; attachment names the download ("" = inline).
func writeFile(w http.ResponseWriter, format, attachment string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", exportTypes[format])
	h.Set("Cache-Control", "no-store")
	if attachment != "" {
		h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", attachment))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (a *API) getParticipation(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	format, rng, err := exportParams(r, chat.FormatJSON, chat.FormatCSV)
	if err != nil {
		return err
	}
	p, err := a.chat.Participation(r.Context(), c.user, rng)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := chat.WriteParticipation(&buf, p, format); err != nil {
		return err
	}
	name := ""
	if format == chat.FormatCSV {
		name = "participation.csv"
	}
	writeFile(w, format, name, buf.Bytes())
	return nil
}

func (a *API) getTranscript(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	format, rng, err := exportParams(r, chat.FormatJSON, chat.FormatCSV, chat.FormatHTML)
	if err != nil {
		return err
	}
	loc, err := exportLocale(r)
	if err != nil {
		return err
	}
	t, err := a.chat.Transcript(r.Context(), c.user, id, rng)
	if err != nil {
		return err
	}
	t.Locale = loc
	var buf bytes.Buffer
	if err := chat.WriteTranscript(&buf, t, format); err != nil {
		return err
	}
	writeFile(w, format, chat.TranscriptFilename(id, format), buf.Bytes())
	return nil
}

// getSessionTranscript is every conversation's messages in a class session's
// window (admins only).
func (a *API) getSessionTranscript(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	format, err := exportFormat(r, chat.FormatJSON, chat.FormatCSV, chat.FormatHTML)
	if err != nil {
		return err
	}
	loc, err := exportLocale(r)
	if err != nil {
		return err
	}
	t, err := a.chat.SessionTranscript(r.Context(), c.user, id)
	if err != nil {
		return err
	}
	t.Locale = loc
	var buf bytes.Buffer
	if err := chat.WriteSessionTranscript(&buf, t, format); err != nil {
		return err
	}
	writeFile(w, format, chat.SessionTranscriptFilename(id, format), buf.Bytes())
	return nil
}
