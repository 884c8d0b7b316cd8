package api

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"

	"teamchat/server/model"
	"teamchat/server/store"
)

// Class sessions and the flagged queue (issue 6). Authorization is the chat
// service's: admins for sessions and the queue, readers of the conversation
// for reports.

func (a *API) sessionRoutes() []route {
	return []route{
		{"POST /api/v1/sessions", a.signedIn(a.startClassSession)},
		{"GET /api/v1/sessions", a.signedIn(a.listClassSessions)},
		{"POST /api/v1/sessions/{id}/end", a.signedIn(a.endClassSession)},
		{"POST /api/v1/messages/{id}/report", a.signedIn(a.reportMessage)},
		{"GET /api/v1/flags", a.signedIn(a.listFlags)},
		{"POST /api/v1/flags/{id}/resolve", a.signedIn(a.resolveFlag)},
	}
}

// currentClassSession is GET /info's session (nil when none, or on a read error).
func (a *API) currentClassSession(r *http.Request) *store.SessionInfo {
	c, err := a.chat.CurrentClassSession(r.Context())
	if err != nil {
		a.log.Error("class session lookup failed", "err", err)
		return nil
	}
	return c
}

func (a *API) startClassSession(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	var in struct {
		Name   string      `json:"name"`
		EndsAt *model.Time `json:"ends_at"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	var ends *time.Time
	if in.EndsAt != nil {
		ends = &in.EndsAt.Time
	}
	sess, err := a.chat.StartClassSession(r.Context(), c.user, in.Name, ends)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, sess)
	return nil
}

func (a *API) listClassSessions(w http.ResponseWriter, r *http.Request, c caller) error {
	list, err := a.chat.ClassSessions(r.Context(), c.user)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
	return nil
}

func (a *API) endClassSession(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	sess, err := a.chat.EndClassSession(r.Context(), c.user, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sess)
	return nil
}

func (a *API) reportMessage(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	f, err := a.chat.Report(r.Context(), c.user, id, in.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, f)
	return nil
}

func (a *API) listFlags(w http.ResponseWriter, r *http.Request, c caller) error {
	flags, err := a.chat.Flags(r.Context(), c.user, r.URL.Query().Get("status"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"flags": flags})
	return nil
}

func (a *API) resolveFlag(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		Note string `json:"note"`
	}
	if err := decodeOptional(r, &in); err != nil {
		return err
	}
	f, err := a.chat.ResolveFlag(r.Context(), c.user, id, in.Note)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}

// decodeOptional decodes a JSON body like decode, but an empty body is {}.
func decodeOptional(r *http.Request, v any) error {
	if r.Body == nil {
		return nil
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &httpError{http.StatusRequestEntityTooLarge, "too_large", "request body over 64 KiB"}
		}
		return badRequest("could not read the request body")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	return decode(r, v)
}
