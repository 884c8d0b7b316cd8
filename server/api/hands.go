package api

import (
	"net/http"
)

// Raised hands (chat/hands.go): the queue, raise, lower one, next, lower all.

func (a *API) handRoutes() []route {
	return []route{
		{"GET /api/v1/conversations/{id}/hands", a.signedIn(a.listHands)},
		{"POST /api/v1/conversations/{id}/hands", a.signedIn(a.raiseHand)},
		{"DELETE /api/v1/conversations/{id}/hands", a.signedIn(a.lowerAllHands)},
		{"POST /api/v1/conversations/{id}/hands/next", a.signedIn(a.nextHand)},
		{"DELETE /api/v1/conversations/{id}/hands/{user_id}", a.signedIn(a.lowerHand)},
	}
}

func (a *API) listHands(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	hands, err := a.chat.Hands(r.Context(), c.user, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"hands": hands})
	return nil
}

// raiseHand answers 201 when the hand went up, 200 when it already was.
func (a *API) raiseHand(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	h, raised, err := a.chat.RaiseHand(r.Context(), c.user, id)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if raised {
		status = http.StatusCreated
	}
	writeJSON(w, status, h)
	return nil
}

func (a *API) lowerHand(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	uid, err := pathID(r, "user_id")
	if err != nil {
		return err
	}
	if err := a.chat.LowerHand(r.Context(), c.user, id, uid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) nextHand(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	h, err := a.chat.NextHand(r.Context(), c.user, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (a *API) lowerAllHands(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	n, err := a.chat.LowerAllHands(r.Context(), c.user, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"lowered": n})
	return nil
}
