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
	}
}

// exportParams reads format (default json; one of allowed), since/until and session_id.
func exportParams(r *http.Request, allowed ...string) (string, chat.TimeRange, error) {
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = chat.FormatJSON
	}
	ok := false
	for _, f := range allowed {
		ok = ok || f == format
	}
	if !ok {
		return "", chat.TimeRange{}, badRequest("format: want one of %v", allowed)
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
	t, err := a.chat.Transcript(r.Context(), c.user, id, rng)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := chat.WriteTranscript(&buf, t, format); err != nil {
		return err
	}
	writeFile(w, format, chat.TranscriptFilename(id, format), buf.Bytes())
	return nil
}
