package api

import (
	"net/http"

	"teamchat/server/store"
)

// Moderation routes (issue 6): mutes, pins, announcements and the audit log.
// Authorization is the chat service's (Authorize with ActManage / ActRead, or admin).

func (a *API) muteMember(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		UserID  int64 `json:"user_id"`
		Minutes int   `json:"minutes"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.UserID <= 0 {
		return badRequest("user_id: want a positive integer")
	}
	res, err := a.chat.Mute(r.Context(), c.user, id, in.UserID, in.Minutes)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, res)
	return nil
}

func (a *API) unmuteMember(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	uid, err := pathID(r, "user_id")
	if err != nil {
		return err
	}
	if err := a.chat.Unmute(r.Context(), c.user, id, uid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listMutes(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ms, err := a.chat.Mutes(r.Context(), c.user, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"mutes": ms})
	return nil
}

func (a *API) setPin(w http.ResponseWriter, r *http.Request, c caller, pinned bool) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := a.chat.Pin(r.Context(), c.user, id, pinned); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) pinMessage(w http.ResponseWriter, r *http.Request, c caller) error {
	return a.setPin(w, r, c, true)
}

func (a *API) unpinMessage(w http.ResponseWriter, r *http.Request, c caller) error {
	return a.setPin(w, r, c, false)
}

func (a *API) listPins(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ms, err := a.chat.Pins(r.Context(), c.user, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": ms})
	return nil
}

func (a *API) postAnnouncement(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	var in struct {
		Body string `json:"body"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	ms, err := a.chat.Announce(r.Context(), c.user, in.Body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"messages": ms})
	return nil
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	f := store.AuditFilter{Limit: 50, Action: r.URL.Query().Get("action")}
	if len(f.Action) > 64 {
		return badRequest("action: at most 64 characters")
	}
	if v, err := queryInt(r, "actor_id"); err != nil {
		return err
	} else if v != nil {
		if *v == 0 {
			return badRequest("actor_id: want a positive integer")
		}
		f.ActorID = *v
	}
	if v, err := queryInt(r, "before_id"); err != nil {
		return err
	} else if v != nil {
		if *v == 0 {
			return badRequest("before_id: want a positive integer")
		}
		f.BeforeID = *v
	}
	if l, err := queryInt(r, "limit"); err != nil {
		return err
	} else if l != nil {
		if *l < 1 || *l > 200 {
			return badRequest("limit: 1 to 200")
		}
		f.Limit = int(*l)
	}
	page, err := a.chat.AuditLog(r.Context(), c.user, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}
