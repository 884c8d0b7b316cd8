package api

import (
	"net/http"

	"teamchat/server/chat"
)

// Questions (chat/questions.go): the board, ask, upvote, staff changes, withdraw.

func (a *API) questionRoutes() []route {
	return []route{
		{"GET /api/v1/conversations/{id}/questions", a.signedIn(a.listQuestions)},
		{"POST /api/v1/conversations/{id}/questions", a.signedIn(a.askQuestion)},
		{"PATCH /api/v1/questions/{id}", a.signedIn(a.patchQuestion)},
		{"DELETE /api/v1/questions/{id}", a.signedIn(a.withdrawQuestion)},
		{"PUT /api/v1/questions/{id}/vote", a.signedIn(a.voteQuestion(true))},
		{"DELETE /api/v1/questions/{id}/vote", a.signedIn(a.voteQuestion(false))},
	}
}

func (a *API) listQuestions(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	qs, err := a.chat.Questions(r.Context(), c.user, id, r.URL.Query().Get("sort"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"questions": qs})
	return nil
}

func (a *API) askQuestion(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		Body      string `json:"body"`
		Anonymous *bool  `json:"anonymous"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	anon := in.Anonymous == nil || *in.Anonymous // anonymous to classmates unless said otherwise
	q, err := a.chat.Ask(r.Context(), c.user, id, in.Body, anon)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, q)
	return nil
}

func (a *API) patchQuestion(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		Status *string `json:"status"`
		Pinned *bool   `json:"pinned"`
		Answer *string `json:"answer"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	q, err := a.chat.UpdateQuestion(r.Context(), c.user, id, chat.QuestionPatch{Status: in.Status, Pinned: in.Pinned, Answer: in.Answer})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, q)
	return nil
}

func (a *API) withdrawQuestion(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := a.chat.Withdraw(r.Context(), c.user, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) voteQuestion(on bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c caller) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		q, err := a.chat.Vote(r.Context(), c.user, id, on)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, q)
		return nil
	}
}
