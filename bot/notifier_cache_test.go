package bot_test

import (
	"context"
	"fmt"
	"testing"

	"credential-grafana/bot"
	"credential-grafana/cg"
)

// The notifier keeps a client per bot token, but no more than MaxCachedTokens.
func TestNotifierTokenCacheIsBounded(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t)
	ctx := context.Background()
	for i := range bot.MaxCachedTokens + 50 {
		// Unknown tokens: the fake refuses them (invalid_auth), but each gets a client.
		_ = n.Tell(ctx, cg.Secret(fmt.Sprintf("xoxb-unknown-%d", i)), "C0123456789", "hello")
	}
	if c := n.Cached(); c > bot.MaxCachedTokens {
		t.Fatalf("%d token clients cached, want at most %d", c, bot.MaxCachedTokens)
	}
	_ = srv
}
