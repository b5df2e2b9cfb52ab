// Package app is the program credential-grafana: the CLI (cli.go, where every command is
// dispatched; cli_keys.go and cli_pipeline.go hold groups of them), the Main type that
// wires config -> logger -> db -> commands -> front-ends (app.go, frontends.go), the
// configuration (config.go), logging, doctor, house-keeping and the service's own
// Grafana account and dashboard. The module root's main.go only hands Run the process's
// arguments, streams and signals and what it alone has: the linker's version and the
// files it embeds (Build).
package app
