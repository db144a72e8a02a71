// Command gatehouse is the Gatehouse app: a GitHub App webhook server that
// records approval decisions and answers the waiting actions (`gatehouse
// serve`, the default), and `gatehouse demo`, which runs a whole approval
// gate on this machine against an emulated GitHub.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gatehouse-ci/gatehouse/internal/actionrun"
)

const usage = `usage: gatehouse [command]

commands:
  serve           run the app (the default); configured by the environment,
                  see README.md
  demo [--auto] [--verbose]
                  run an approval gate end to end on this machine: the app on
                  SQLite, an emulated GitHub (no account needed) and the
                  action; --auto approves on its own, --verbose shows the
                  app's log
  action          run the Gatehouse action (the program of gatehouse-action)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	cmd, args := "serve", os.Args[1:]
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		if len(args) > 0 {
			break
		}
		err := serve(ctx, os.Getenv, os.Stderr, nil)
		if errors.Is(err, errConfig) {
			os.Exit(2)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "gatehouse:", err)
			os.Exit(1)
		}
		return
	case "demo":
		if err := runDemo(ctx, args, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "gatehouse demo:", err)
			os.Exit(1)
		}
		return
	case "action":
		os.Exit(actionrun.Main(ctx, actionrun.Options{Getenv: os.Getenv, Stdout: os.Stdout}))
	}
	fmt.Fprint(os.Stderr, usage)
	os.Exit(2)
}

func splitLines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }
