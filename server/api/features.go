package api

import (
	"net/http"
	"time"

	"teamchat/server/store"
)

// Everyday features (issue 8): edits, reactions, replies, mentions,
// notification mutes and search. Attachments are in attachments.go.

func (a *API) featureRoutes() []route {
	return []route{
		{"PATCH /api/v1/messages/{id}", a.signedIn(a.editMessage)},
		{"GET /api/v1/messages/{id}/edits", a.signedIn(a.messageEdits)},
		{"PUT /api/v1/messages/{id}/reactions/{emoji}", a.signedIn(a.react(true))},
		{"DELETE /api/v1/messages/{id}/reactions/{emoji}", a.signedIn(a.react(false))},
		{"GET /api/v1/messages/{id}/replies", a.signedIn(a.replies)},
		{"GET /api/v1/mentions", a.signedIn(a.mentions)},
		{"PUT /api/v1/conversations/{id}/notifications", a.signedIn(a.notifications)},
		{"GET /api/v1/search", a.signedIn(a.search)},
	}
}

func (a *API) editMessage(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		Body string `json:"body"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	m, err := a.chat.EditMessage(r.Context(), c.user, id, in.Body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (a *API) messageEdits(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	edits, err := a.chat.MessageEdits(r.Context(), c.user, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"edits": edits})
	return nil
}

func (a *API) react(on bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c caller) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		list, err := a.chat.React(r.Context(), c.user, id, r.PathValue("emoji"), on)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"reactions": list})
		return nil
	}
}

// limitParam reads ?limit= within [1, max], def when absent.
func limitParam(r *http.Request, def, max int64) (int, error) {
	l, err := queryInt(r, "limit")
	if err != nil {
		return 0, err
	}
	if l == nil {
		return int(def), nil
	}
	if *l < 1 || *l > max {
		return 0, badRequest("limit: 1 to %d", max)
	}
	return int(*l), nil
}

func (a *API) replies(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	limit, err := limitParam(r, 200, 500)
	if err != nil {
		return err
	}
	var after int64
	if v, err := queryInt(r, "after_seq"); err != nil {
		return err
	} else if v != nil {
		after = *v
	}
	m, page, err := a.chat.Replies(r.Context(), c.user, id, after, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": m, "replies": page.Messages, "has_more": page.HasMore})
	return nil
}

func (a *API) mentions(w http.ResponseWriter, r *http.Request, c caller) error {
	limit, err := limitParam(r, 50, 200)
	if err != nil {
		return err
	}
	before := int64(1 << 62)
	if v, err := queryInt(r, "before_id"); err != nil {
		return err
	} else if v != nil {
		before = *v
	}
	page, err := a.chat.Mentions(r.Context(), c.user, before, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (a *API) notifications(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		Muted *bool `json:"muted"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Muted == nil {
		return badRequest("muted: required (true or false)")
	}
	if err := a.chat.SetNotificationsMuted(r.Context(), c.user, id, *in.Muted); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) search(w http.ResponseWriter, r *http.Request, c caller) error {
	q := store.SearchQuery{Text: r.URL.Query().Get("q")}
	var err error
	if q.Limit, err = limitParam(r, 30, 100); err != nil {
		return err
	}
	for name, dst := range map[string]*int64{"conversation_id": &q.ConversationID, "sender_id": &q.SenderID} {
		if v, err := queryInt(r, name); err != nil {
			return err
		} else if v != nil {
			*dst = *v
		}
	}
	if v, err := queryInt(r, "offset"); err != nil {
		return err
	} else if v != nil {
		if *v > 1000 {
			return badRequest("offset: 0 to 1000")
		}
		q.Offset = int(*v)
	}
	for name, dst := range map[string]*int64{"after": &q.After, "before": &q.Before} {
		v := r.URL.Query().Get(name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return badRequest("%s: want an RFC 3339 time such as 2026-11-29T09:00:00Z", name)
		}
		*dst = t.UnixMilli()
	}
	page, err := a.chat.Search(r.Context(), c.user, q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}
