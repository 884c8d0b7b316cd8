// Package cli is the command line of the headless server and its admin tools:
// serve, user add, user passwd, backup, export, version (and discover).
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"teamchat/server"
	"teamchat/server/chat"
	"teamchat/server/config"
	"teamchat/server/store"
)

const usage = `Team Chat — classroom chat

Usage:
  teamchat                          desktop app, host mode (falls back to serve without a display)
  teamchat serve [--addr HOST:PORT] [--data DIR] [--no-mdns] [--origin URL]...
  teamchat join [URL]               desktop app, client mode
  teamchat user add --data DIR --username U --role admin|user [--display-name N]   (password: one line on stdin)
  teamchat user passwd --data DIR --username U                                    (password: one line on stdin)
  teamchat user login-link --data DIR --username U   (an admin's one-time web sign-in, past every sign-in limit; 10 minutes)
  teamchat backup --data DIR --out FILE
  teamchat restore --data DIR --from FILE|latest   (the server must be stopped; --list shows the automatic backups)
  teamchat export --data DIR [--conversation ID] --format json|csv|html [--since T] [--until T] [--session ID] [--out FILE]
  teamchat export --data DIR --participation --format json|csv [--since T] [--until T] [--session ID] [--out FILE]
  teamchat export --data DIR --session ID --format json|csv|html [--out FILE]   (the session's transcript, all conversations)
  teamchat discover [--timeout 3s] [--json]
  teamchat version
`

// Run runs one command and returns the exit code.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = Serve(args[1:], stdout, stderr)
	case "user":
		err = userCmd(args[1:], stdin, stdout, stderr)
	case "backup":
		err = backupCmd(args[1:], stdout, stderr)
	case "export":
		err = exportCmd(args[1:], stdout, stderr)
	case "restore":
		err = restoreCmd(args[1:], stdout, stderr)
	case "discover":
		return Discover(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "teamchat %s\n", config.Version)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "teamchat: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "teamchat %s: %v\n", args[0], err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

// Logger is the server's structured logger: text on stderr; TEAMCHAT_LOG=debug for more.
func Logger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if strings.EqualFold(os.Getenv("TEAMCHAT_LOG"), "debug") {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// ServeFlags parses the serve flags into a Config.
func ServeFlags(name string, args []string, stderr io.Writer) (config.Config, error) {
	cfg := config.Defaults()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	config.RegisterFlags(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, usageErr("unexpected argument %q", fs.Arg(0))
	}
	return cfg, cfg.Validate()
}

// Serve runs the headless server until SIGINT or SIGTERM.
func Serve(args []string, stdout, stderr io.Writer) error {
	cfg, err := ServeFlags("serve", args, stderr)
	if err != nil {
		return err
	}
	return RunServer(cfg, stdout, stderr)
}

// RunServer starts a server with cfg and shuts it down gracefully on a signal.
func RunServer(cfg config.Config, stdout, stderr io.Writer) error {
	log := Logger(stderr)
	srv, err := server.New(cfg, log)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := srv.Start(); err != nil {
		_ = srv.Shutdown(context.Background())
		return err
	}
	fmt.Fprintf(stdout, "Team Chat is running at %s\n", srv.LocalURL())
	for _, u := range srv.URLs() {
		fmt.Fprintf(stdout, "  on the network: %s\n", u)
	}
	var serveErr error
	select {
	case sig := <-sigs:
		log.Info("shutting down", "signal", sig.String())
	case serveErr = <-srv.Done():
		log.Error("server stopped", "err", serveErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	return errors.Join(serveErr, srv.Shutdown(ctx))
}

// readPassword reads one line from stdin.
func readPassword(stdin io.Reader) (string, error) {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("password: give it as one line on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func openService(ctx context.Context, dataDir string) (*store.Store, *chat.Service, error) {
	if dataDir == "" {
		return nil, nil, usageErr("--data is required")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, nil, err
	}
	st, err := server.OpenStore(ctx, dataDir)
	if err != nil {
		return nil, nil, err
	}
	return st, chat.New(st, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), chat.Options{BcryptCost: 10}), nil
}

func userCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "add" && args[0] != "passwd" && args[0] != "login-link") {
		return usageErr("teamchat user add|passwd|login-link ...")
	}
	fs := flag.NewFlagSet("user "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", os.Getenv("TEAMCHAT_DATA"), "data directory")
	username := fs.String("username", "", "username")
	role := fs.String("role", "user", "admin or user (add)")
	display := fs.String("display-name", "", "display name (add)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *username == "" {
		return usageErr("--username is required")
	}
	if args[0] == "login-link" {
		return loginLink(*data, *username, stdout)
	}
	pw, err := readPassword(stdin)
	if err != nil {
		return err
	}
	ctx := context.Background()
	st, svc, err := openService(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	if args[0] == "add" {
		u, err := svc.CreateUserCLI(ctx, *username, pw, *display, *role)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s %q (id %d)\n", u.Role, u.Username, u.ID)
		return nil
	}
	u, err := st.UserByUsername(ctx, *username)
	if err != nil {
		return fmt.Errorf("no user %q", *username)
	}
	hash, err := svc.Hasher().Hash(ctx, pw)
	if err != nil {
		return err
	}
	if _, err := st.UpdateUser(ctx, u.ID, store.UserPatch{PasswordHash: &hash}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "password changed for %q; their sessions and tokens were ended\n", u.Username)
	return nil
}

// loginLink prints a one-time sign-in for an admin whose browser sign-in is
// refused (e.g. while classmates' wrong guesses hold the username's limit).
func loginLink(data, username string, stdout io.Writer) error {
	ctx := context.Background()
	st, svc, err := openService(ctx, data)
	if err != nil {
		return err
	}
	defer st.Close()
	t, exp, err := svc.AdminSignInTicket(ctx, username)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "One-time sign-in for %q, until %s: open the server's address followed by\n  /?ticket=%s\n(for example http://127.0.0.1:8080/?ticket=%s). It works once.\n",
		username, exp.Format("15:04:05"), t, t)
	return nil
}

func backupCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", os.Getenv("TEAMCHAT_DATA"), "data directory")
	out := fs.String("out", "", "file to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return usageErr("--out is required")
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("%s exists: choose a new file", *out)
	}
	ctx := context.Background()
	st, _, err := openService(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Backup(ctx, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup written to %s\n", *out)
	return nil
}

func restoreCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", os.Getenv("TEAMCHAT_DATA"), "data directory")
	from := fs.String("from", "", "backup file, or latest")
	list := fs.Bool("list", false, "list the automatic backups, newest first")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" {
		return usageErr("--data is required")
	}
	if *list {
		files, err := server.ListBackups(*data)
		if err != nil {
			return err
		}
		for _, f := range files {
			fmt.Fprintln(stdout, f)
		}
		return nil
	}
	if *from == "" {
		return usageErr("--from FILE|latest is required")
	}
	used, err := server.Restore(context.Background(), *data, *from)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s into %s (the previous database files were kept with a .before-restore suffix)\n", used, *data)
	return nil
}
