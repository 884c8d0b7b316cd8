package api

import (
	"net/http"

	"teamchat/server/chat"
	"teamchat/server/model"
)

// The headless server's first-run setup (chat/firstrun.go): open only while
// no admin exists and the server printed a setup code; refused afterwards.
func (a *API) firstRunRoutes() []route {
	return []route{
		{"GET /api/v1/setup", a.open(a.getSetup)},
		{"POST /api/v1/setup", a.open(a.postSetup)},
	}
}

func (a *API) getSetup(w http.ResponseWriter, r *http.Request) error {
	pending, err := a.chat.FirstRunPending(r.Context())
	if err != nil {
		return err
	}
	if !pending {
		return &model.Error{Kind: model.ErrNotFound, Msg: "no first-run setup: this class is set up; sign in"}
	}
	writeJSON(w, http.StatusOK, map[string]any{"required": true, "code_length": chat.SetupCodeLen, "password_min_length": 8})
	return nil
}

// postSetup creates the class and its professor and signs the professor in
// with the browser session (cookie and CSRF token, as POST /session).
func (a *API) postSetup(w http.ResponseWriter, r *http.Request) error {
	if err := a.sessionOrigin(r); err != nil {
		return err
	}
	var in chat.SetupInput
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := a.chat.CompleteFirstRun(r.Context(), in, clientAddr(r))
	if err != nil {
		return err
	}
	a.log.Info("class set up in the browser", "admin", u.Username, "from", clientAddr(r))
	return a.startSession(w, r, u, http.StatusCreated)
}

// setupRequired is /info's setup_required: the page shows the setup form.
func (a *API) setupRequired(r *http.Request) bool {
	pending, err := a.chat.FirstRunPending(r.Context())
	return err == nil && pending
}
