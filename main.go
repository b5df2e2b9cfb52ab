// Command credential-grafana is a Slack-first service that turns EDA run tables into
// Grafana dashboards, animated GIFs and Slack posts. This file only wires: config ->
// logger -> db -> commands -> front-ends. See the README.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
