// Package rest is the REST front-end over package commands: routing, bearer-token
// authentication, JSON bodies and errors ({"error":{"code":…,"message":…}}), the body
// size limit, and the /healthz, /readyz and /metrics endpoints.
package rest
