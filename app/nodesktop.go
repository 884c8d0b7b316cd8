//go:build !desktop

package app

import "os"

// This build has no desktop shell (no desktop build tag): the server and the
// CLI work, the window does not.

const noWindow = "this build has no desktop window (build with -tags desktop,production,webkit2_41)"

// RunHost runs the headless server: there is no window in this build.
func RunHost(args []string) int { return headlessServe(noWindow, args) }

// RunJoin lists the classes found on the LAN: there is no window in this build.
func RunJoin(args []string) int {
	initial, code, ok := joinArgs(args, os.Stderr)
	if !ok {
		return code
	}
	return headlessJoin(noWindow, initial)
}
