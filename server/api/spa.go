package api

import (
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// spa serves the embedded web client: files as they are, and index.html for
// any other path so the client's own routes work on reload. Nothing is read
// from the working directory.
func (a *API) spa() http.Handler {
	files := http.FileServerFS(a.assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean("/" + r.URL.Path)
		name := strings.TrimPrefix(p, "/")
		if name != "" {
			if st, err := fs.Stat(a.assets, name); err == nil && !st.IsDir() {
				if path.Ext(name) == ".webmanifest" { // not in every system's MIME table
					w.Header().Set("Content-Type", "application/manifest+json")
				}
				if strings.HasPrefix(name, "assets/") {
					w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
				}
				files.ServeHTTP(w, r)
				return
			}
			if path.Ext(name) != "" {
				http.NotFound(w, r)
				return
			}
		}
		index, err := fs.ReadFile(a.assets, "index.html")
		if err != nil {
			http.Error(w, "web client not built", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(index)
	})
}
