// Command credential-grafana is a Slack-first service that turns EDA run tables into
// Grafana dashboards, animated GIFs and Slack posts. This file only wires: the process's
// arguments, streams and signals go to internal/app, which holds the CLI and the service
// (config -> logger -> db -> commands -> front-ends). See the README.
package main

import (
	"context"
	_ "embed"
	"os"
	"os/signal"
	"syscall"

	"credential-grafana/internal/app"
)

// version is set at build time with -ldflags "-X main.version=…" (the Makefile, the Dockerfile).
var version = "dev"

// The files of the module root the CLI needs, embedded here because go:embed reaches
// only files in or below the package's directory: .env.example, which `init` copies to
// .env, and the Slack app manifest, whose scopes `doctor` checks the bot token against.
var (
	//go:embed .env.example
	envExample string
	//go:embed slack-app-manifest.yaml
	slackManifest string
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Run(ctx, app.Build{Version: version, EnvExample: envExample, SlackManifest: slackManifest}, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
