// Command gatehouse is the Gatehouse app. This release has one command,
// `gatehouse demo`, which runs a whole approval gate on this machine against
// an emulated GitHub; the webhook server comes in a later release, and until
// then the action works on its own in standalone mode (app-url empty).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: gatehouse <command>

commands:
  demo [--auto]   run an approval gate end to end on this machine, against an
                  emulated GitHub (no account needed); --auto approves on its own

The webhook server is not part of this release: the Gatehouse action runs in
standalone mode (leave app-url empty). See README.md.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if len(os.Args) < 2 || os.Args[1] != "demo" {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err := runDemo(ctx, os.Args[2:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse demo:", err)
		os.Exit(1)
	}
}
