//go:build webui

package frontend

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Assets returns the built web client (frontend/dist), embedded at build time.
// Builds with the webui tag need `npm run build` first (make does it).
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // unreachable: "dist" is a literal embedded directory
	}
	return sub
}

// Built reports whether the real web client is embedded.
func Built() bool { return true }
