package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"teamchat/server/cli"
	"teamchat/server/config"
)

// hostConfig parses the host-mode flags (the same as `serve`). ok is false
// when the program should exit with code.
func hostConfig(args []string, stderr io.Writer) (cfg config.Config, code int, ok bool) {
	cfg = config.Defaults()
	fs := flag.NewFlagSet("teamchat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config.RegisterFlags(fs, &cfg)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: teamchat [flags]            the professor's desktop app (host mode)")
		fmt.Fprintln(stderr, "       teamchat join [URL]         the students' desktop app (client mode)")
		fmt.Fprintln(stderr, "       teamchat serve [flags]      the headless server; teamchat help for every command")
		fmt.Fprintln(stderr, "\nHost mode flags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, 0, false
		}
		return cfg, 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "teamchat: unexpected argument %q (did you mean teamchat join %s?)\n", fs.Arg(0), fs.Arg(0))
		return cfg, 2, false
	}
	cfg.PortFallback = true
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "teamchat: %v\n", err)
		return cfg, 2, false
	}
	return cfg, 0, true
}

// headlessServe runs `teamchat serve` with the host-mode flags.
func headlessServe(reason string, args []string) int {
	fmt.Fprintf(os.Stderr, "teamchat: %s: running the headless server instead (teamchat serve)\n", reason)
	return cli.Run(append([]string{"serve"}, args...), os.Stdin, os.Stdout, os.Stderr)
}

// headlessJoin lists the classes on stdout when no window can be opened;
// initial is the URL given on the command line, if any.
func headlessJoin(reason, initial string) int {
	if initial != "" {
		fmt.Fprintf(os.Stderr, "teamchat join: %s: open %s in a web browser\n", reason, initial)
		return 1
	}
	fmt.Fprintf(os.Stderr, "teamchat join: %s: listing the classes on this network instead (teamchat discover)\n", reason)
	return cli.Discover([]string{"--timeout", "5s"}, os.Stdout, os.Stderr)
}

// joinArgs parses `teamchat join [URL]`; ok is false when the program should
// exit with code.
func joinArgs(args []string, stderr io.Writer) (initial string, code int, ok bool) {
	fs := flag.NewFlagSet("join", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: teamchat join [URL]")
		fmt.Fprintln(stderr, "Opens a class: the one at URL, or one picked from those announced on the local network.")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", 0, false
		}
		return "", 2, false
	}
	switch fs.NArg() {
	case 0:
		return "", 0, true
	case 1:
		u, err := NormalizeURL(fs.Arg(0))
		if err != nil {
			fmt.Fprintf(stderr, "teamchat join: %v\n", err)
			return "", 2, false
		}
		return u, 0, true
	default:
		fs.Usage()
		return "", 2, false
	}
}
