// Package commands holds every user-facing operation once: parse, validate
// (validator/v10), authorise, run, and return a typed result or a *cg.Error. The Slack
// bot, the REST API and the CLI are thin front-ends over it, so `/cg user add alice`,
// `POST /api/v1/users` and `credential-grafana user add alice` run the same code and
// give the same answers. Nothing here knows Slack, HTTP or SQL types.
package commands
