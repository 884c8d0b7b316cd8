package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"teamchat/server"
)

// firstRunPoll is how often a pending setup looks for an admin made by
// `teamchat user add` in another terminal.
const firstRunPoll = 3 * time.Second

// printFirstRun tells the operator of an empty data directory what to do.
// The setup code goes to stdout only, never to the logger (stderr) or a file.
func printFirstRun(w io.Writer, srv *server.Server, code, dataDir string) {
	fmt.Fprintf(w, `
First run: this class has no professor account yet.
  1. Open %s in a browser (on this machine, or an address above).
  2. Enter this one-time setup code, then the class name and your account:

         %s

  The code works once, and only while this server runs (a restart prints a new one).
  Without a browser, in another terminal:
      teamchat user add --data %s --username NAME --role admin   (the password as one line on stdin)
`, srv.LocalURL(), code, shellQuote(dataDir))
}

// printNextStep says where to sign in and how students join, once set up.
func printNextStep(w io.Writer, srv *server.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	set, err := srv.Chat().Settings(ctx)
	if err != nil {
		fmt.Fprintf(w, "\nThe class is set up. Sign in at %s\n", srv.LocalURL())
		return
	}
	who := "the professor's account was created"
	if u := srv.Chat().FirstRunAdmin(); u.ID != 0 {
		who = fmt.Sprintf("professor %q is signed in", u.Username)
	}
	fmt.Fprintf(w, "\nClass %q is set up; %s.\n", set.Name, who)
	fmt.Fprintf(w, "  Professor: sign in at %s (the console shows the QR code, the class code and who is online).\n", srv.LocalURL())
	var lan []string
	for _, u := range srv.URLs() {
		if !strings.Contains(u, "//127.0.0.1:") && !strings.Contains(u, "//[::1]:") {
			lan = append(lan, u)
		}
	}
	join, note := srv.LocalURL(), ""
	if len(lan) > 0 {
		join = lan[0]
	} else {
		note = "  (This server is reachable from this machine only: for the class network start it with --addr 0.0.0.0:PORT.)\n"
	}
	fmt.Fprintf(w, "  Students: open %s?code=%s\n", join, set.JoinCode)
	fmt.Fprintf(w, "            or %s and type the class code %s.\n%s", join, set.JoinCode, note)
}

// shellQuote quotes a path for copying into a shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-~") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
