package grafana_test

import (
	"context"
	"fmt"
	"testing"

	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

// A client per user token is cached, but no more than MaxCachedClients of them: tokens
// that come and go do not grow the cache forever.
func TestClientsCacheIsBounded(t *testing.T) {
	t.Parallel()
	fake := grafanatest.New(t)
	cs := grafana.NewClients(grafana.Config{BaseURL: fake.URL, Token: "glsa_service"})
	for i := range grafana.MaxCachedClients + 100 {
		if _, _, err := cs.For(map[string]string{"grafana_url": fake.URL, "grafana_api_key": fmt.Sprintf("glsa_user_%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := cs.Cached(); n > grafana.MaxCachedClients {
		t.Fatalf("%d clients cached, want at most %d", n, grafana.MaxCachedClients)
	}
	// A dropped client is made again and works.
	c, _, err := cs.For(map[string]string{"grafana_url": fake.URL, "grafana_api_key": fake.Token})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Health(context.Background()); err != nil {
		t.Fatalf("a client made after others were dropped: %v", err)
	}
}
