package api

import (
	"net/http"

	"teamchat/docs"
)

// The API's own description is public: it says nothing that the open-source
// code does not, and integrators read it before they have an account.
func (a *API) docRoutes() []route {
	return []route{
		{"GET /api/v1/openapi.json", a.openAPIJSON},
		{"GET /api/docs", a.referencePage},
	}
}

func (a *API) openAPIJSON(w http.ResponseWriter, r *http.Request) {
	doc, err := docs.OpenAPIJSON()
	if err != nil {
		a.writeError(w, r, err) // unreachable: a test loads the embedded document
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write(doc)
}

// referenceCSP is the page's own policy: the middleware's, plus blob: workers
// (the reference renderer runs its search index in one). Scripts still come
// only from this server.
const referenceCSP = "default-src 'self'; script-src 'self'; worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"frame-ancestors 'none'; form-action 'self'"

func (a *API) referencePage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", referenceCSP)
	_, _ = w.Write(docs.ReferenceHTML)
}
