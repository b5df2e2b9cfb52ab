package rest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/commands/commandstest"
	"credential-grafana/rest"
)

// BenchmarkListUsers measures GET /api/v1/users at BENCH_USERS users (default 300):
// everything in one body (limit=500, what the unpaged list answered) against the first
// page (the default 50). It reports the body's size as B/body; requests per second are
// 1e9 / ns/op.
func BenchmarkListUsers(b *testing.B) {
	n := 300
	if v, err := strconv.Atoi(os.Getenv("BENCH_USERS")); err == nil && v > 0 {
		n = v
	}
	env := commandstest.New(b)
	srv := httptest.NewServer(rest.New(rest.Config{Service: env.Service, AdminToken: cg.Secret(adminToken), Logger: env.Logger}))
	b.Cleanup(srv.Close)
	insertUsers(b, env, "bench", n, "")
	for _, c := range []struct{ name, query string }{
		{"all_in_one_body", "?limit=500"},
		{"first_page", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			req, _ := http.NewRequest("GET", srv.URL+"/api/v1/users"+c.query, nil)
			req.Header.Set("Authorization", "Bearer "+adminToken)
			var size int64
			for b.Loop() {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				size, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			b.ReportMetric(float64(size), "B/body")
		})
	}
}
