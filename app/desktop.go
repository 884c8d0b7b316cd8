//go:build desktop

package app

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/menu"
	"github.com/wailsapp/wails/v2/pkg/menu/keys"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/options/linux"
	wruntime "github.com/wailsapp/wails/v2/pkg/runtime"

	"teamchat/server"
	"teamchat/server/cli"
	"teamchat/server/discovery"
)

//go:embed all:assets
var assets embed.FS

// RunHost is host mode: the professor's window around the embedded server.
func RunHost(args []string) int {
	if !hasDisplay() {
		return headlessServe("no display (DISPLAY and WAYLAND_DISPLAY are unset)", args)
	}
	cfg, code, ok := hostConfig(args, os.Stderr)
	if !ok {
		return code
	}
	logger := cli.Logger(os.Stderr)
	h := newHost(logger, cfg.DataDir)

	exit := 0
	srv, err := server.New(cfg, logger)
	if err != nil {
		// Typically another instance holds the data directory: say so on
		// stderr and in the window, which then only offers to quit.
		fmt.Fprintf(os.Stderr, "teamchat: %v\n", err)
		h.fail(err)
		exit = 1
	} else if err := h.prepare(context.Background(), srv); err != nil {
		fmt.Fprintf(os.Stderr, "teamchat: %v\n", err)
		exit = 1
	}

	if err := runWindow("Team Chat", h, nil, nil); err != nil {
		fmt.Fprintf(os.Stderr, "teamchat: window: %v\n", err)
		exit = 1
	}

	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace+5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "teamchat: shutdown: %v\n", err)
			exit = 1
		} else {
			logger.Info("stopped cleanly")
		}
	}
	return exit
}

// RunJoin is client mode: find a class on the LAN (or take the URL given) and
// show its web UI in the window. No server runs.
func RunJoin(args []string) int {
	initial, code, ok := joinArgs(args, os.Stderr)
	if !ok {
		return code
	}
	if !hasDisplay() {
		return headlessJoin("no display (DISPLAY and WAYLAND_DISPLAY are unset)", initial)
	}
	logger := cli.Logger(os.Stderr)
	j := newJoin(logger, initial)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Browse even when a URL was given: the class list is one menu click away.
	browsing := make(chan struct{})
	go func() {
		defer close(browsing)
		if err := (discovery.Browser{Found: j.found, Lost: j.lost}).Run(ctx); err != nil {
			j.browseFailed(err)
		}
	}()
	if initial != "" {
		logger.Info("opening class", "url", initial)
	}

	// The menu brings the window back to the class list from a class's page
	// (where the page itself cannot reach Go), e.g. after the professor's app
	// restarted on another port.
	var win windowContext
	bar := menu.NewMenu()
	m := bar.AddSubmenu("Team Chat")
	m.AddText("Classes on this network", keys.CmdOrCtrl("l"), func(*menu.CallbackData) {
		logger.Info("back to the class list")
		win.do(wruntime.WindowReloadApp)
	})
	m.AddText("Reload", keys.CmdOrCtrl("r"), func(*menu.CallbackData) { win.do(wruntime.WindowReload) })
	m.AddSeparator()
	m.AddText("Quit", keys.CmdOrCtrl("q"), func(*menu.CallbackData) { win.do(wruntime.Quit) })

	err := runWindow("Team Chat — join a class", j, bar, &win)
	j.close()
	cancel()
	<-browsing
	if err != nil {
		fmt.Fprintf(os.Stderr, "teamchat join: window: %v\n", err)
		return 1
	}
	return 0
}

// windowContext holds the Wails context once the window has started, for
// menu callbacks.
type windowContext struct {
	mu  sync.Mutex
	ctx context.Context
}

func (w *windowContext) set(ctx context.Context) {
	w.mu.Lock()
	w.ctx = ctx
	w.mu.Unlock()
}

func (w *windowContext) do(f func(context.Context)) {
	w.mu.Lock()
	ctx := w.ctx
	w.mu.Unlock()
	if ctx != nil {
		f(ctx)
	}
}

// runWindow opens the Wails window on the embedded page with bound as the only
// bound object, and returns when the window is closed. win, if not nil,
// receives the window's context.
func runWindow(title string, bound any, bar *menu.Menu, win *windowContext) error {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return err
	}
	icon, err := fs.ReadFile(sub, "appicon.png")
	if err != nil {
		return err
	}

	// Wails handles SIGINT and SIGTERM itself ("Ctrl+C detected"): it quits
	// the window the same way as its close button, and wails.Run returns.
	return wails.Run(&options.App{
		Title:            title,
		Width:            1200,
		Height:           780,
		MinWidth:         720,
		MinHeight:        520,
		BackgroundColour: &options.RGBA{R: 246, G: 247, B: 251, A: 255},
		AssetServer:      &assetserver.Options{Assets: sub},
		Menu:             bar,
		OnStartup: func(ctx context.Context) {
			if win != nil {
				win.set(ctx)
			}
		},
		Bind: []any{bound},
		Linux: &linux.Options{
			Icon:        icon,
			ProgramName: "teamchat",
			// Software rendering: the default when no Linux options are given
			// (wails issue 2977); a chat page does not need the GPU.
			WebviewGpuPolicy: linux.WebviewGpuPolicyNever,
		},
	})
}
