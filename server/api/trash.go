package api

import "net/http"

// listTrash answers the conversations in the trash and how long one stays
// there (admins only).
func (a *API) listTrash(w http.ResponseWriter, r *http.Request, c caller) error {
	list, err := a.chat.Trash(r.Context(), c.user)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"conversations":     list,
		"retention_seconds": int64(a.chat.TrashRetention().Seconds()),
	})
	return nil
}

// restoreConversation takes a conversation out of the trash (admins only).
func (a *API) restoreConversation(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	conv, err := a.chat.RestoreConversation(r.Context(), c.user, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, conv)
	return nil
}
