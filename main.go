// Command teamchat is the Team Chat binary: the professor's desktop host, the
// students' desktop client, and the headless server with its admin commands.
package main

import (
	"os"

	"teamchat/app"
	"teamchat/server/cli"
)

func main() {
	args := os.Args[1:]
	switch {
	case len(args) == 0 || (len(args) > 0 && len(args[0]) > 0 && args[0][0] == '-'):
		// Host mode: the desktop console with the embedded server; it falls
		// back to headless serve when there is no display.
		os.Exit(app.RunHost(args))
	case args[0] == "join":
		os.Exit(app.RunJoin(args[1:]))
	default:
		os.Exit(cli.Run(args, os.Stdin, os.Stdout, os.Stderr))
	}
}
