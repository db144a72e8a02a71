// Command gatehouse-action is the Gatehouse GitHub Action: it pauses a job
// until people approve or reject it on an approval issue, and hands their
// typed decision to the following steps as outputs.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gatehouse-ci/gatehouse/internal/actionrun"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := actionrun.Main(ctx, actionrun.Options{Getenv: os.Getenv, Stdout: os.Stdout})
	stop()
	os.Exit(code)
}
