// Package app is the desktop shell of Team Chat, and the only package that
// imports Wails (in files built with the desktop tag).
//
// Host mode (RunHost) opens the professor's window around the embedded
// server; client mode (RunJoin) lists the classes found on the LAN and opens
// the chosen one. Both windows first load a small page embedded here
// (assets/), then navigate to the server's own URL: from then on the page is
// same-origin with the server and behaves as in a browser, and the Go methods
// bound into the window are out of its reach (Wails only answers binding
// calls from its own origin). The bound methods are therefore kept to what the
// embedded page needs:
//
//	host:  State, Setup (first run only), OpenConsole (a one-time login ticket
//	       for the professor's own admin account: no more than that session)
//	join:  State (classes found so far), Open (checks a URL)
//
// Builds without the desktop tag have no window: host mode runs the headless
// server and client mode lists the classes on stdout.
package app

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"
)

// hasDisplay reports whether a window can be opened. On Linux GTK needs an X11
// or Wayland display (without one it panics); elsewhere there always is one.
func hasDisplay() bool {
	if runtime.GOOS != "linux" && runtime.GOOS != "freebsd" && runtime.GOOS != "openbsd" {
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

// NormalizeURL turns what a student typed ("10.0.0.5:8080", "http://host/?code=AB12")
// into an absolute http(s) URL; bare host names get http:// and, without a
// port, the default port 8080.
func NormalizeURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", errors.New("enter the address the professor shows, e.g. http://192.168.1.20:8080")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid address", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("only http:// and https:// addresses can be opened, not %s://", u.Scheme)
	}
	if u.Hostname() == "" || u.User != nil {
		return "", fmt.Errorf("%q has no host", raw)
	}
	if u.Port() == "" && !strings.Contains(raw, "://") {
		u.Host = net.JoinHostPort(u.Hostname(), "8080")
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String(), nil
}
