//go:build !webui

// Package frontend exposes the web client's files to the Go server.
package frontend

import (
	"embed"
	"io/fs"
)

//go:embed placeholder
var placeholder embed.FS

// Assets returns a one-page placeholder: this binary was built without the
// web client (no `webui` build tag), as server tests are, so Node is not needed.
func Assets() fs.FS {
	sub, err := fs.Sub(placeholder, "placeholder")
	if err != nil {
		panic(err) // unreachable: "placeholder" is a literal embedded directory
	}
	return sub
}

// Built reports whether the real web client is embedded.
func Built() bool { return false }
