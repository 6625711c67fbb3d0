// Command jobstatus serves the status of asynchronous composition jobs and
// manages them in-process; see README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/jobstatus/jobstatus/cmd/jobstatus/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], cli.IO{Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ()})
	stop()
	os.Exit(code)
}
