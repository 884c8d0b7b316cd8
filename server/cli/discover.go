package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"teamchat/server/discovery"
)

// Discover implements `teamchat discover [--timeout 3s] [--json] [--iface NAME]`:
// it browses mDNS for Team Chat classes and prints one line per class found
// (again if its announcement changes). It exits 0 when at least one class was
// found, 1 when none was, 2 on usage or network errors.
func Discover(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("discover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "how long to listen")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	var ifaceNames discoverIfaceList
	fs.Var(&ifaceNames, "iface", "browse on this network interface only (repeatable; default: all)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: teamchat discover [--timeout 3s] [--json] [--iface NAME]")
		fmt.Fprintln(stderr, "Lists the Team Chat classes announced on the local network (mDNS _teamchat._tcp).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "discover: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *timeout <= 0 {
		fmt.Fprintln(stderr, "discover: --timeout must be positive")
		return 2
	}
	ifaces, err := discovery.InterfacesByName(ifaceNames)
	if err != nil {
		fmt.Fprintf(stderr, "discover: %v\n", err)
		return 2
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()

	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	count := 0
	var printErr error
	err = discovery.Browser{Ifaces: ifaces, Found: func(e discovery.Entry) {
		count++
		if printErr != nil {
			return
		}
		if *asJSON {
			printErr = enc.Encode(discoveredJSON{Entry: e, URL: e.URL()})
			return
		}
		_, printErr = fmt.Fprintln(stdout, FormatDiscovered(e))
	}}.Run(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "discover: %v\n", err)
		return 2
	}
	if printErr != nil {
		fmt.Fprintf(stderr, "discover: %v\n", printErr)
		return 2
	}
	if count == 0 {
		fmt.Fprintf(stderr, "discover: no class found within %s (the network may block multicast; ask for the URL instead)\n", *timeout)
		return 1
	}
	return 0
}

type discoveredJSON struct {
	discovery.Entry
	URL string `json:"url"`
}

// FormatDiscovered is the one-line text form of a class: name, host, addresses, port, id.
func FormatDiscovered(e discovery.Entry) string {
	addrs := strings.Join(e.Addrs, ",")
	if addrs == "" {
		addrs = "-"
	}
	return fmt.Sprintf("%q host=%s addrs=%s port=%d id=%s url=%s", e.Name, e.Host, addrs, e.Port, e.ID, e.URL())
}

// discoverIfaceList collects a repeatable string flag.
type discoverIfaceList []string

func (s *discoverIfaceList) String() string { return strings.Join(*s, ",") }
func (s *discoverIfaceList) Set(v string) error {
	*s = append(*s, v)
	return nil
}
